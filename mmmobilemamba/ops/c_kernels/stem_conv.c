/* Dense k x k convolution of a map with few input channels (MobileMamba's
 * first stem conv, on RGB) with bias and an optional activation, float32,
 * inference only: the kernel of backend "c" for mmmobilemamba.ops.stem_conv2d.
 *
 *   out[b, oh, ow, o] = act(bias[o] + sum_{c, i, j} w[o, c, i, j]
 *                           * x[b, c, oh * s + i - ph, ow * s + j - pw])
 * with zero padding (taps outside the map are skipped). x is addressed by
 * element strides (sb, sc, sh, sw), so NCHW and channels-last input both
 * work without a copy; w is (O, C, kh, kw), bias (O) or NULL; out is
 * (B, OH, OW, O) contiguous. act: 0 none, 1 ReLU, 2 SiLU.
 *
 * Output channels are vectorised: every input value is broadcast once to
 * up to four 8-channel accumulators. wt is a workspace of
 * (C * kh * kw + 1) * O8 floats, O8 = O rounded up to 8: the weight
 * transposed to (tap, output channel) and the bias, zero-padded to O8.
 */
#include "polynomial_math.h"

/* Output channels [o0, o0 + 8 * nv) of one pixel; nv (1 to 4) is a
 * constant where this is inlined, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void pixel(
    const float *x, long base, const float *wt, float *yp, long o0, int nv,
    long o8,
    long out_c, long in_c, long sc, long sh, long sw, long kh, long kw,
    long i0, long i1, long j0, long j1, long activation) {
  v8sf acc[4];
  const float *bias = wt + in_c * kh * kw * o8 + o0;
  for (int v = 0; v < nv; ++v) acc[v] = load8(bias + 8 * v);
  for (long c = 0; c < in_c; ++c)
    for (long i = i0; i < i1; ++i)
      for (long j = j0; j < j1; ++j) {
        float xv = x[base + c * sc + i * sh + j * sw];
        const float *wp = wt + ((c * kh + i) * kw + j) * o8 + o0;
        for (int v = 0; v < nv; ++v) acc[v] += xv * load8(wp + 8 * v);
      }
  for (int v = 0; v < nv; ++v) {
    v8sf y = activate8(acc[v], activation);
    long o = o0 + 8 * v, count = out_c - o < 8 ? out_c - o : 8;
    if (count == 8)
      store8(yp + o, y);
    else
      memcpy(yp + o, &y, count * sizeof(float));
  }
}

/* The (item, output row) pairs are spread over `threads` OpenMP threads;
 * each output element is computed by one thread, in one order. */
void mmm_stem_conv2d_f32(const float *x, const float *w, const float *bias,
                         float *wt, float *out, long batch, long in_c,
                         long height, long width, long out_c, long sb,
                         long sc, long sh, long sw, long kh, long kw,
                         long stride, long ph, long pw, long out_h,
                         long out_w, long activation, long threads) {
  long taps = in_c * kh * kw, o8 = (out_c + 7) / 8 * 8;
  for (long t = 0; t <= taps; ++t)
    for (long o = 0; o < o8; ++o)
      wt[t * o8 + o] = o >= out_c   ? 0.f
                       : t < taps   ? w[o * taps + t]
                       : bias       ? bias[o]
                                    : 0.f;
#pragma omp parallel for collapse(2) schedule(static) \
    num_threads(threads) if (threads > 1)
  for (long b = 0; b < batch; ++b)
    for (long oh = 0; oh < out_h; ++oh) {
      long top = oh * stride - ph;
      long i0 = top < 0 ? -top : 0;
      long i1 = height - top < kh ? height - top : kh;
      for (long ow = 0; ow < out_w; ++ow) {
        long left = ow * stride - pw;
        long j0 = left < 0 ? -left : 0;
        long j1 = width - left < kw ? width - left : kw;
        /* x + base is the top-left tap of channel 0, possibly outside */
        long base = b * sb + top * sh + left * sw;
        float *yp = out + ((b * out_h + oh) * out_w + ow) * out_c;
        for (long o0 = 0; o0 < o8; o0 += 32) {
          long nv = (o8 - o0) / 8 < 4 ? (o8 - o0) / 8 : 4;
          if (nv == 4)
            pixel(x, base, wt, yp, o0, 4, o8, out_c, in_c, sc, sh, sw, kh, kw,
                  i0, i1, j0, j1, activation);
          else if (nv == 3)
            pixel(x, base, wt, yp, o0, 3, o8, out_c, in_c, sc, sh, sw, kh, kw,
                  i0, i1, j0, j1, activation);
          else if (nv == 2)
            pixel(x, base, wt, yp, o0, 2, o8, out_c, in_c, sc, sh, sw, kh, kw,
                  i0, i1, j0, j1, activation);
          else
            pixel(x, base, wt, yp, o0, 1, o8, out_c, in_c, sc, sh, sw, kh, kw,
                  i0, i1, j0, j1, activation);
        }
      }
    }
}

/* Depthwise k x k convolution over channels-last maps with bias, an
 * optional activation and an optional residual, float32, inference only:
 * the kernel of backend "c" for mmmobilemamba.ops.depthwise_conv2d.
 *
 *   out[b, oh, ow, c] = act(bias[c] + sum_{i, j} w[c, i, j]
 *                           * x[b, oh * s + i - ph, ow * s + j - pw, c])
 * with zero padding (taps outside the map are skipped). x is addressed by
 * element strides (sb, sh, sw) with channels contiguous, so a channel slice
 * of a channels-last map needs no copy; w is (C, kh, kw), bias (C) or
 * NULL; out is (B, OH, OW, C) contiguous.
 * act: 0 none, 1 ReLU, 2 SiLU. With `residual` (stride 1, same size), x is
 * added to the activated output.
 *
 * Work goes by output row and group of GROUP channels. A group's four
 * 8-channel vectors of an output pixel are accumulated over the taps in
 * registers (GCC/Clang vector extensions, lowered to whatever the target
 * has), so the adds do not wait on each other; a narrower last group goes
 * one vector, then one lane, at a time.
 */
#include "polynomial_math.h"

/* The activated sum plus the residual r (NULL: none). */
static inline v8sf finish8(v8sf acc, long activation, const float *r) {
  v8sf y = activate8(acc, activation);
  return r ? y + load8(r) : y;
}

/* Channels per group: four 8-float vectors accumulated side by side. */
#define GROUP 32

/* Output row oh of channels [c0, c0 + count), count <= GROUP, of item b;
 * wt is (kh * kw, C). */
static void conv_row(const float *x, const float *wt, const float *bias,
                     float *out, long b, long oh, long c0, long count,
                     long height, long width, long channels, long sb, long sh,
                     long sw, long kh, long kw, long stride, long ph, long pw,
                     long out_h, long out_w, long activation,
                     long residual) {
  long vectors = count / 8;
  float bg[GROUP];
  for (long c = 0; c < count; ++c) bg[c] = bias ? bias[c0 + c] : 0.f;
  const float *wg = wt + c0;
  long top = oh * stride - ph;
  long i0 = top < 0 ? -top : 0;
  long i1 = height - top < kh ? height - top : kh;
  for (long ow = 0; ow < out_w; ++ow) {
    long left = ow * stride - pw;
    long j0 = left < 0 ? -left : 0;
    long j1 = width - left < kw ? width - left : kw;
    /* x + base is the top-left tap, possibly outside the map */
    long base = b * sb + top * sh + left * sw + c0;
    float *yp = out + ((b * out_h + oh) * out_w + ow) * channels + c0;
    /* with a residual, stride 1 and out size = in size */
    const float *rp = residual ? x + b * sb + oh * sh + ow * sw + c0 : NULL;
    if (vectors == GROUP / 8) {
      v8sf acc0 = load8(bg), acc1 = load8(bg + 8);
      v8sf acc2 = load8(bg + 16), acc3 = load8(bg + 24);
      for (long i = i0; i < i1; ++i)
        for (long j = j0; j < j1; ++j) {
          const float *wp = wg + (i * kw + j) * channels;
          const float *xp = x + base + i * sh + j * sw;
          acc0 += load8(wp) * load8(xp);
          acc1 += load8(wp + 8) * load8(xp + 8);
          acc2 += load8(wp + 16) * load8(xp + 16);
          acc3 += load8(wp + 24) * load8(xp + 24);
        }
      store8(yp, finish8(acc0, activation, rp));
      store8(yp + 8, finish8(acc1, activation, rp ? rp + 8 : NULL));
      store8(yp + 16, finish8(acc2, activation, rp ? rp + 16 : NULL));
      store8(yp + 24, finish8(acc3, activation, rp ? rp + 24 : NULL));
      continue;
    }
    for (long v = 0; v < vectors; ++v) {
      v8sf acc = load8(bg + 8 * v);
      for (long i = i0; i < i1; ++i)
        for (long j = j0; j < j1; ++j)
          acc += load8(wg + (i * kw + j) * channels + 8 * v) *
                 load8(x + base + i * sh + j * sw + 8 * v);
      store8(yp + 8 * v, finish8(acc, activation, rp ? rp + 8 * v : NULL));
    }
    for (long c = 8 * vectors; c < count; ++c) {
      float acc = bg[c];
      for (long i = i0; i < i1; ++i)
        for (long j = j0; j < j1; ++j)
          acc += wg[(i * kw + j) * channels + c] *
                 x[base + i * sh + j * sw + c];
      float y = activate1(acc, activation);
      yp[c] = rp ? y + rp[c] : y;
    }
  }
}

/* wt: a (kh * kw, C) workspace for the transposed weight. The (item,
 * channel group, output row) triples are spread over `threads` OpenMP
 * threads; each output element is computed by one thread, in one order. */
void mmm_depthwise_conv2d_f32(const float *x, const float *w,
                              const float *bias, float *wt, float *out,
                              long batch, long height, long width,
                              long channels, long sb, long sh, long sw,
                              long kh, long kw, long stride, long ph, long pw,
                              long out_h, long out_w, long activation,
                              long residual, long threads) {
  for (long c = 0; c < channels; ++c)
    for (long t = 0; t < kh * kw; ++t) wt[t * channels + c] = w[c * kh * kw + t];
  long groups = (channels + GROUP - 1) / GROUP;
#pragma omp parallel for collapse(3) schedule(static) \
    num_threads(threads) if (threads > 1)
  for (long b = 0; b < batch; ++b)
    for (long g = 0; g < groups; ++g)
      for (long oh = 0; oh < out_h; ++oh) {
        long count = channels - g * GROUP < GROUP ? channels - g * GROUP : GROUP;
        conv_row(x, wt, bias, out, b, oh, g * GROUP, count, height, width,
                 channels, sb, sh, sw, kh, kw, stride, ph, pw, out_h, out_w,
                 activation, residual);
      }
}

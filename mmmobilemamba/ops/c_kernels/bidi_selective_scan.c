/* Bidirectional d_state=1 selective scan of MobileMamba's SS2D, inference
 * only, float32: the kernel of backend "c" (mmmobilemamba.ops.c_kernels).
 *
 * For batch item b, direction k (0: positions 0..L-1, 1: L-1..0) and channel
 * c, at every position p in scan order:
 *   z     = bias[k, c] + sum_r proj[b, p, k, r] * wdt[k, r, c]
 *   delta = softplus(z)
 *   h     = exp(delta * a[k, c]) * h   (exp = 0 below log(FLT_MIN))
 *           + delta * proj[b, p, k, R] * x[b, p, c]
 *   out[b, p, c] += h * proj[b, p, k, R + 1] + d[k, c] * x[b, p, c]
 * with h = 0 before the first step and out the sum of both directions.
 * Layouts (all contiguous): x, out (B, L, Di); proj (B, L, 2, R + 2);
 * wdt (2, R, Di); bias, a, d (2, Di).
 *
 * Written so that the compiler vectorises the channel loops; exp and log1p
 * are the polynomials of polynomial_math.h.
 */
#include "polynomial_math.h"

/* Channels scanned together: the running states of a block stay in L1. */
#define BLOCK 128

/* One direction over channels [c0, c0 + width), width <= BLOCK. */
static void scan_block(const float *restrict x, const float *restrict proj,
                       const float *restrict wdt, const float *restrict bias,
                       const float *restrict a, const float *restrict d,
                       float *restrict out, long b, int k, long length,
                       long channels, long rank, long c0, long width) {
  float h[BLOCK], z[BLOCK];
  long stride = 2 * (rank + 2);
  const float *ak = a + k * channels + c0;
  const float *dk = d + k * channels + c0;
  const float *bk = bias + k * channels + c0;
  const float *wk = wdt + k * rank * channels + c0;
  for (long i = 0; i < width; ++i) h[i] = 0.f;
  for (long s = 0; s < length; ++s) {
    long p = k ? length - 1 - s : s;
    const float *xr = x + (b * length + p) * channels + c0;
    const float *pr = proj + (b * length + p) * stride + k * (rank + 2);
    float *yr = out + (b * length + p) * channels + c0;
    /* z of four vectors at a time, kept in registers over the rank */
    long i = 0;
    for (; i + 32 <= width; i += 32) {
      v8sf z0 = load8(bk + i), z1 = load8(bk + i + 8);
      v8sf z2 = load8(bk + i + 16), z3 = load8(bk + i + 24);
      for (long r = 0; r < rank; ++r) {
        const float *wr = wk + r * channels + i;
        float dt = pr[r];
        z0 += dt * load8(wr);
        z1 += dt * load8(wr + 8);
        z2 += dt * load8(wr + 16);
        z3 += dt * load8(wr + 24);
      }
      store8(z + i, z0);
      store8(z + i + 8, z1);
      store8(z + i + 16, z2);
      store8(z + i + 24, z3);
    }
    for (; i < width; ++i) {
      float zi = bk[i];
      for (long r = 0; r < rank; ++r) zi += pr[r] * wk[r * channels + i];
      z[i] = zi;
    }
    float bs = pr[rank], cs = pr[rank + 1];
    if (k == 0) {
      for (long i = 0; i < width; ++i) {
        float delta = softplus(z[i]);
        float hi = exp_nonpositive(delta * ak[i]) * h[i] + delta * bs * xr[i];
        h[i] = hi;
        yr[i] = hi * cs + dk[i] * xr[i];
      }
    } else { /* direction 1 adds to direction 0's output */
      for (long i = 0; i < width; ++i) {
        float delta = softplus(z[i]);
        float hi = exp_nonpositive(delta * ak[i]) * h[i] + delta * bs * xr[i];
        h[i] = hi;
        yr[i] += hi * cs + dk[i] * xr[i];
      }
    }
  }
}

/* Both directions of channel chunks [q * chunk, (q + 1) * chunk) of every
 * batch item, the (item, chunk) pairs spread over `threads` OpenMP threads
 * (PyTorch's own pool where the library is linked to its runtime). Each
 * output element is computed by one thread, in one order: the result does
 * not depend on the split. */
void mmm_bidi_selective_scan_f32(const float *x, const float *proj,
                                 const float *wdt, const float *bias,
                                 const float *a, const float *d, float *out,
                                 long batch, long length, long channels,
                                 long rank, long chunk, long threads) {
  long chunks = (channels + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) schedule(static) \
    num_threads(threads) if (threads > 1)
  for (long b = 0; b < batch; ++b)
    for (long q = 0; q < chunks; ++q) {
      long c_stop = (q + 1) * chunk < channels ? (q + 1) * chunk : channels;
      for (int k = 0; k < 2; ++k)
        for (long c0 = q * chunk; c0 < c_stop; c0 += BLOCK) {
          long width = c_stop - c0 < BLOCK ? c_stop - c0 : BLOCK;
          scan_block(x, proj, wdt, bias, a, d, out, b, k, length, channels,
                     rank, c0, width);
        }
    }
}

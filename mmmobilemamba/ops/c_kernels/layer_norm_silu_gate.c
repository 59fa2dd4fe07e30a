/* LayerNorm over channels times SiLU of a gate, float32, inference only:
 * the kernel of backend "c" for mmmobilemamba.ops.layer_norm_silu_gate.
 *
 * For every pixel p of item b, over the C channels of x (B, P, C):
 *   out[b, p, c] = ((x[b, p, c] - mean) / sqrt(var + eps) * weight[c]
 *                   + bias[c]) * silu(gate[b, p, c])
 * with the biased variance, as torch.nn.LayerNorm. gate is addressed by
 * element strides (gb, gp) with channels contiguous, so the gate half of a
 * channels-last map needs no copy; out is (B, P, C) contiguous.
 */
#include "polynomial_math.h"

/* Sum of n floats in eight lanes, then across the lanes. */
static inline float sum(const float *v, long n) {
  v8sf acc = {0.f};
  long c = 0;
  for (; c + 8 <= n; c += 8) acc += load8(v + c);
  float lanes[8], total = 0.f;
  store8(lanes, acc);
  for (int l = 0; l < 8; ++l) total += lanes[l];
  for (; c < n; ++c) total += v[c];
  return total;
}

/* Sum of the squares of v - shift, likewise. */
static inline float sum_squares(const float *v, long n, float shift) {
  v8sf acc = {0.f};
  long c = 0;
  for (; c + 8 <= n; c += 8) {
    v8sf d = load8(v + c) - shift;
    acc += d * d;
  }
  float lanes[8], total = 0.f;
  store8(lanes, acc);
  for (int l = 0; l < 8; ++l) total += lanes[l];
  for (; c < n; ++c) total += (v[c] - shift) * (v[c] - shift);
  return total;
}

/* Pixels are spread over `threads` OpenMP threads; each output element is
 * computed by one thread, in one order. */
void mmm_layer_norm_silu_gate_f32(const float *x, const float *gate,
                                  const float *weight, const float *bias,
                                  float *out, long batch, long pixels,
                                  long channels, long gb, long gp, float eps,
                                  long threads) {
#pragma omp parallel for collapse(2) schedule(static) \
    num_threads(threads) if (threads > 1)
  for (long b = 0; b < batch; ++b)
    for (long p = 0; p < pixels; ++p) {
      const float *xr = x + (b * pixels + p) * channels;
      const float *gr = gate + b * gb + p * gp;
      float *yr = out + (b * pixels + p) * channels;
      float mean = sum(xr, channels) / channels;
      float var = sum_squares(xr, channels, mean) / channels;
      float rstd = 1.f / sqrtf(var + eps);
      for (long c = 0; c < channels; ++c)
        yr[c] = ((xr[c] - mean) * rstd * weight[c] + bias[c]) * silu(gr[c]);
    }
}

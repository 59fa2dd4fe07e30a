/* Inline float32 math shared by the C kernels of backend "c": an 8-float
 * vector type, and exp, softplus and SiLU as polynomials, so the kernels
 * need neither a vector math library nor -ffast-math (which they must not
 * be built with: their rounding trick relies on IEEE arithmetic, and a
 * shared library built with it switches the whole process to flushing
 * denormals). Scalar code that GCC and Clang vectorise over channel
 * loops. */
#ifndef MMMOBILEMAMBA_POLYNOMIAL_MATH_H
#define MMMOBILEMAMBA_POLYNOMIAL_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Eight floats (GCC/Clang vector extension, lowered to whatever the target
 * has), loaded and stored unaligned. */
typedef float v8sf __attribute__((vector_size(32)));

static inline v8sf load8(const float *p) {
  v8sf v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void store8(float *p, v8sf v) { memcpy(p, &v, sizeof(v)); }

#define LOG_FLT_MIN (-87.33654475f)

/* exp(x) for x <= 0: 2^n * exp(r), |r| <= ln(2) / 2, exp(r) by its
 * degree-7 Taylor polynomial (relative error below 1e-8 before rounding),
 * evaluated in Estrin's scheme: short dependency chains keep the vector
 * units busy. Below log(FLT_MIN) it is 0 (exp(-inf) = 0, as PyTorch's:
 * silu(-inf) is NaN); NaN stays NaN (every comparison with it is false,
 * so it passes the clamp, and the polynomial of NaN is NaN). */
static inline float exp_nonpositive(float x) {
  int tiny = x < LOG_FLT_MIN;
  x = tiny ? LOG_FLT_MIN : x;
  /* Round to nearest: adding and subtracting 1.5 * 2^23 drops the
   * fraction. */
  float n = (x * 1.44269504089f + 12582912.f) - 12582912.f;
  float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float r2 = r * r, r4 = r2 * r2;
  float p01 = 1.f + r, p23 = 0.5f + r * (1.f / 6.f);
  float p45 = 1.f / 24.f + r * (1.f / 120.f);
  float p67 = 1.f / 720.f + r * (1.f / 5040.f);
  float p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof(scale));
  return tiny ? 0.f : p * scale;
}

/* softplus(z) = max(z, 0) + log1p(e), e = exp(-|z|) in (0, 1], with
 * log1p(e) = e * q(e) and q a degree-9 polynomial fitted to log1p(e) / e on
 * [0, 1] (relative error about 1.3e-7 in float32), in Estrin's scheme: no
 * division. Equals PyTorch's softplus, whose threshold (z > 20 gives z) is
 * below float32 resolution here. */
static inline float softplus(float z) {
  float e = exp_nonpositive(-fabsf(z));
  float e2 = e * e, e4 = e2 * e2, e8 = e4 * e4;
  float q01 = 1.f + e * -4.999988973e-01f;
  float q23 = 3.332966566e-01f + e * -2.495116740e-01f;
  float q45 = 1.966101825e-01f + e * -1.526327431e-01f;
  float q67 = 1.053295061e-01f + e * -5.626952648e-02f;
  float q89 = 1.948768646e-02f + e * -3.163999412e-03f;
  float q = (q01 + e2 * q23) + e4 * (q45 + e2 * q67) + e8 * q89;
  return (z > 0.f ? z : 0.f) + e * q;
}

/* silu(y) = y * sigmoid(y), with exp taken of -|y| only (no overflow). */
static inline float silu(float y) {
  float e = exp_nonpositive(-fabsf(y));
  return y * ((y < 0.f ? e : 1.f) / (1.f + e));
}

/* The same exp and SiLU on eight lanes, in vector operations: a loop of
 * the scalar ones over a vector's lanes is not vectorised. */
typedef int32_t v8si __attribute__((vector_size(32)));

static inline v8sf splat8(float x) { return (v8sf){0.f} + x; }

/* a where mask, else b */
static inline v8sf select8(v8si mask, v8sf a, v8sf b) {
  return (v8sf)((mask & (v8si)a) | (~mask & (v8si)b));
}

static inline v8sf exp_nonpositive8(v8sf x) {
  v8si tiny = x < splat8(LOG_FLT_MIN);
  x = select8(tiny, splat8(LOG_FLT_MIN), x);
  v8sf n = (x * 1.44269504089f + 12582912.f) - 12582912.f;
  v8sf r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  v8sf r2 = r * r, r4 = r2 * r2;
  v8sf p01 = 1.f + r, p23 = 0.5f + r * (1.f / 6.f);
  v8sf p45 = 1.f / 24.f + r * (1.f / 120.f);
  v8sf p67 = 1.f / 720.f + r * (1.f / 5040.f);
  v8sf p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
  v8si bits = (__builtin_convertvector(n, v8si) + 127) << 23;
  return (v8sf)(~tiny & (v8si)(p * (v8sf)bits));
}

static inline v8sf silu8(v8sf y) {
  v8si negative = y < splat8(0.f);
  v8sf e = exp_nonpositive8(select8(negative, y, -y));
  return y * (select8(negative, e, splat8(1.f)) / (1.f + e));
}

/* Activation codes of the conv kernels: 0 none, 1 ReLU, 2 SiLU. ReLU is
 * written "0 where y < 0, else y", so that NaN stays NaN (as in PyTorch;
 * fmaxf(y, 0) and "y where y > 0" would make it 0). */
static inline v8sf activate8(v8sf y, long activation) {
  if (activation == 1) return select8(y < splat8(0.f), splat8(0.f), y);
  if (activation == 2) return silu8(y);
  return y;
}

static inline float activate1(float y, long activation) {
  if (activation == 1) return y < 0.f ? 0.f : y;
  if (activation == 2) return silu(y);
  return y;
}

#endif

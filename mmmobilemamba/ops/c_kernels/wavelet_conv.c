/* WTE-Mamba's wavelet branch with the official Haar banks, float32, inference
 * only: the kernel of backend "c" of mmmobilemamba.ops.wavelet_conv.
 *
 * For every channel c of a (B, H, W, C) map (channels innermost):
 *   Haar analysis of each 2x2 patch (odd sizes zero-padded at the
 *   bottom/right) into four subbands s = LL, rows, columns, diagonal, without
 *   the banks' gains; a k x k depthwise conv of every subband with zero
 *   'same' padding; synthesis back to the patch, cropped to (H, W).
 * The weight (k * k, 4, C) already holds the conv kernel times the subband
 * scale and both banks' gains. coeffs is a (B, H/2, W/2, 4, C) workspace.
 */

/* Channels processed together: a block's accumulators stay in L1. */
#define BLOCK 128

/* Stands in for the pixels of the zero padding (read) and of the cropped
 * rows/columns (written), so that the channel loops have no branches. */
static const float zeros[BLOCK];

/* The four unscaled subbands of one 2x2 patch (pixels p, q above r, s). */
static void haar_patch(const float *restrict p, const float *restrict q,
                       const float *restrict r, const float *restrict s,
                       float *restrict out, long channels, long count) {
  for (long c = 0; c < count; ++c) {
    float top = p[c] + q[c], bottom = r[c] + s[c];
    out[c] = top + bottom;
    out[channels + c] = top - bottom;
    out[2 * channels + c] = (p[c] + r[c]) - (q[c] + s[c]);
    out[3 * channels + c] = (p[c] - q[c]) - (r[c] - s[c]);
  }
}

static void analysis(const float *restrict x, float *restrict coeffs,
                     long height, long width, long channels, long c0,
                     long count) {
  long h2 = (height + 1) / 2, w2 = (width + 1) / 2;
  for (long i = 0; i < h2; ++i)
    for (long j = 0; j < w2; ++j) {
      long r = 2 * i, q = 2 * j;
      int right = q + 1 < width, below = r + 1 < height;
      const float *p00 = x + (r * width + q) * channels + c0;
      const float *p01 = right ? p00 + channels : zeros;
      const float *p10 = below ? p00 + width * channels : zeros;
      const float *p11 = right && below ? p10 + channels : zeros;
      haar_patch(p00, p01, p10, p11,
                 coeffs + ((i * w2 + j) * 4) * channels + c0, channels,
                 count);
    }
}

static void conv_synthesis(const float *restrict coeffs,
                           const float *restrict weight, float *restrict y,
                           long height, long width, long channels,
                           long kernel, long c0, long count) {
  long h2 = (height + 1) / 2, w2 = (width + 1) / 2, pad = kernel / 2;
  float acc[4][BLOCK], cropped[BLOCK];
  for (long i = 0; i < h2; ++i)
    for (long j = 0; j < w2; ++j) {
      for (int s = 0; s < 4; ++s)
        for (long c = 0; c < count; ++c) acc[s][c] = 0.f;
      for (long u = 0; u < kernel; ++u) {
        long ii = i + u - pad;
        if (ii < 0 || ii >= h2) continue;
        for (long v = 0; v < kernel; ++v) {
          long jj = j + v - pad;
          if (jj < 0 || jj >= w2) continue;
          const float *in = coeffs + ((ii * w2 + jj) * 4) * channels + c0;
          const float *w = weight + ((u * kernel + v) * 4) * channels + c0;
          for (int s = 0; s < 4; ++s)
            for (long c = 0; c < count; ++c)
              acc[s][c] += w[s * channels + c] * in[s * channels + c];
        }
      }
      long r = 2 * i, q = 2 * j;
      int right = q + 1 < width, below = r + 1 < height;
      float *o00 = y + (r * width + q) * channels + c0;
      float *o01 = right ? o00 + channels : cropped;
      float *o10 = below ? o00 + width * channels : cropped;
      float *o11 = right && below ? o10 + channels : cropped;
      for (long c = 0; c < count; ++c) {
        float ll = acc[0][c], rows = acc[1][c], cols = acc[2][c],
              diag = acc[3][c];
        float upper = ll + rows, lower = ll - rows;
        float ucol = cols + diag, lcol = cols - diag;
        o00[c] = upper + ucol;
        o01[c] = upper - ucol;
        o10[c] = lower + lcol;
        o11[c] = lower - lcol;
      }
    }
}

/* Channel chunks [q * chunk, (q + 1) * chunk) of every batch item, the
 * (item, chunk) pairs spread over `threads` OpenMP threads; each output
 * element is computed by one thread, in one order. */
void mmm_haar_wavelet_conv_f32(const float *x, const float *weight,
                               float *coeffs, float *y, long batch,
                               long height, long width, long channels,
                               long kernel, long chunk, long threads) {
  long plane = height * width * channels;
  long coeff_plane = ((height + 1) / 2) * ((width + 1) / 2) * 4 * channels;
  long chunks = (channels + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) schedule(static) \
    num_threads(threads) if (threads > 1)
  for (long b = 0; b < batch; ++b)
    for (long q = 0; q < chunks; ++q) {
      long c_stop = (q + 1) * chunk < channels ? (q + 1) * chunk : channels;
      for (long c0 = q * chunk; c0 < c_stop; c0 += BLOCK) {
        long count = c_stop - c0 < BLOCK ? c_stop - c0 : BLOCK;
        analysis(x + b * plane, coeffs + b * coeff_plane, height, width,
                 channels, c0, count);
        conv_synthesis(coeffs + b * coeff_plane, weight, y + b * plane, height,
                       width, channels, kernel, c0, count);
      }
    }
}

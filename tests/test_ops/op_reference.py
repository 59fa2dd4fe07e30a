"""Slow float64 references for the ops, independent of ``mmmobilemamba``.

Everything here is written from ``shared/fixtures/SPEC.md`` (sections 8-10)
with explicit Python loops (or PyWavelets for the Haar transform) and never
calls the package's ops. Every function returns float64 tensors and is
differentiable with autograd, except the PyWavelets-based Haar functions.

Haar correspondence with PyWavelets (checked empirically, exact up to float64
rounding): for one channel ``x`` with even H, W and
``cA, (cH, cV, cD) = pywt.dwt2(x, 'db1')``, the package's four subbands are::

    subband 0 (LL)           =  2 * a2 * cA
    subband 1 (detail on H)  =  2 * a2 * cH
    subband 2 (detail on W)  =  2 * a2 * cV
    subband 3 (diagonal)     =  2 * a2 * cD

with all signs +1, where ``a2 = float32(sqrt(0.5))**2 = 0.49999997`` (the
package's filter value) instead of 0.5, so ``2 * a2 = 1 - 6e-8``. Likewise
``haar_idwt(coeffs) = 2 * a2 * pywt.idwt2((c0, (c1, c2, c3)), 'db1')``, and a
round trip scales by ``(2 * a2)**2 = 4 * a2**2``.
"""
import numpy as np
import pywt
import torch
import torch.nn.functional as F

# float32(sqrt(0.5)) squared in float32, as the official filter bank does.
HAAR_A2 = float(np.float32(np.sqrt(0.5)) * np.float32(np.sqrt(0.5)))
# Ratio between the package's Haar subbands and PyWavelets' (see above).
HAAR_SCALE = 2 * HAAR_A2


def softplus_ref(x):
    """torch's softplus (beta 1, threshold 20), written out."""
    return torch.where(x > 20, x, torch.log1p(torch.exp(x.clamp(max=20))))


def selective_scan_ref(u,
                       delta,
                       A,
                       B,
                       C,
                       D=None,
                       delta_bias=None,
                       delta_softplus=True):
    """S6 recurrence with grouped B/C, one channel and one step at a time.

    Shapes as in ``mmmobilemamba.ops.selective_scan``: ``u``/``delta``
    (Bt, K*Dk, L), ``A`` (K*Dk, N), ``B``/``C`` (Bt, K, N, L), ``D`` and
    ``delta_bias`` (K*Dk,). Channel ``d`` uses group ``k = d // Dk``.
    """
    u, delta, A, B, C = (t.double() for t in (u, delta, A, B, C))
    batch, channels, length = u.shape
    groups = B.shape[1]
    per_group = channels // groups
    rows = []
    for d in range(channels):
        k = d // per_group
        dt = delta[:, d]  # (Bt, L)
        if delta_bias is not None:
            dt = dt + delta_bias.double()[d]
        if delta_softplus:
            dt = softplus_ref(dt)
        h = u.new_zeros(batch, A.shape[1])  # (Bt, N), h(-1) = 0
        ys = []
        for t in range(length):
            step = dt[:, t, None]  # (Bt, 1)
            h = (
                torch.exp(step * A[d]) * h +
                step * B[:, k, :, t] * u[:, d, t, None])
            y = (C[:, k, :, t] * h).sum(-1)
            if D is not None:
                y = y + D.double()[d] * u[:, d, t]
            ys.append(y)
        rows.append(torch.stack(ys, dim=-1))
    return torch.stack(rows, dim=1)


def cross_scan_ref(x):
    """(B, D, H, W) or (B, D, L) -> (B, 2, D, L) by explicit indexing.

    Position ``l = h*W + w``; direction 0 is ``s0[t] = x[l=t]``, direction 1
    the whole flattened sequence reversed, ``s1[t] = x[l=L-1-t]``.
    """
    x = x.double()
    batch, channels = x.shape[:2]
    width = x.shape[-1] if x.dim() == 4 else 1
    length = x.shape[2] * width if x.dim() == 4 else x.shape[2]

    def at(b, d, pos):
        if x.dim() == 3:
            return x[b, d, pos]
        return x[b, d, pos // width, pos % width]

    out = [[[[None] * length for _ in range(channels)] for _ in range(2)]
           for _ in range(batch)]
    for b in range(batch):
        for d in range(channels):
            for t in range(length):
                out[b][0][d][t] = at(b, d, t)
                out[b][1][d][t] = at(b, d, length - 1 - t)
    return torch.stack([
        torch.stack([
            torch.stack([torch.stack(seq) for seq in direction])
            for direction in sample
        ]) for sample in out
    ])


def cross_merge_ref(ys):
    """(B, 2, D, L) or (B, 2, D, H, W) -> (B, D, L), per sample:
    ``y[b, d, l] = ys[b, 0, d, l] + ys[b, 1, d, L-1-l]``."""
    ys = ys.double()
    batch, _, channels = ys.shape[:3]
    ys = ys.reshape(batch, 2, channels, -1)
    length = ys.shape[-1]
    out = [[[
        ys[b, 0, d, pos] + ys[b, 1, d, length - 1 - pos]
        for pos in range(length)
    ] for d in range(channels)] for b in range(batch)]
    return torch.stack(
        [torch.stack([torch.stack(row) for row in sample]) for sample in out])


def bidi_selective_scan_ref(x, x_proj_weight, dt_projs_weight, dt_projs_bias,
                            A_logs, Ds):
    """SPEC section 9 scan of a (B, Di, H, W) map -> (B, Di, H*W).

    Each direction ``k`` gets its own projections (plain matmuls) and its own
    single-group selective scan; the two outputs are merged per sample.
    """
    x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds = (
        t.double() for t in (x, x_proj_weight, dt_projs_weight, dt_projs_bias,
                             A_logs, Ds))
    channels = x.shape[1]
    rank = dt_projs_weight.shape[-1]
    xs = cross_scan_ref(x)  # (B, 2, Di, L)
    ys = []
    for k in range(2):
        seq = xs[:, k]  # (B, Di, L)
        proj = torch.matmul(x_proj_weight[k], seq)  # (B, R + 2, L)
        dt = torch.matmul(dt_projs_weight[k], proj[:, :rank])  # (B, Di, L)
        b_k = proj[:, rank:rank + 1, None]  # (B, 1, N=1, L)
        c_k = proj[:, rank + 1:rank + 2, None]
        own = slice(k * channels, (k + 1) * channels)
        ys.append(
            selective_scan_ref(
                seq,
                dt,
                -torch.exp(A_logs[own]),
                b_k,
                c_k,
                Ds[own],
                dt_projs_bias[k],
                delta_softplus=True))
    return cross_merge_ref(torch.stack(ys, dim=1))


def pad_even_ref(x):
    """Zero-pad an odd H (W) by one row at the bottom (column at the
    right), as SPEC section 8."""
    height, width = x.shape[-2:]
    out = x.new_zeros(*x.shape[:-2], height + height % 2, width + width % 2)
    out[..., :height, :width] = x
    return out


def haar_dwt_ref(x, scale=HAAR_SCALE):
    """Haar analysis (B, C, H, W) -> (B, C, 4, ceil(H/2), ceil(W/2)) with
    ``pywt.dwt2(..., 'db1')`` per channel, times ``scale`` (the package's
    ``2 * a2`` by default, 1.0 for plain PyWavelets)."""
    x = pad_even_ref(x.detach().double()).numpy()
    out = np.empty(x.shape[:2] + (4, x.shape[2] // 2, x.shape[3] // 2))
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            c_a, (c_h, c_v, c_d) = pywt.dwt2(x[b, c], 'db1')
            out[b, c] = np.stack([c_a, c_h, c_v, c_d]) * scale
    return torch.from_numpy(out)


def haar_idwt_ref(coeffs, size=None, scale=HAAR_SCALE):
    """Haar synthesis (B, C, 4, H', W') -> (B, C, 2H', 2W') with
    ``pywt.idwt2`` per channel, times ``scale``, cropped to ``size``."""
    coeffs = coeffs.detach().double().numpy()
    batch, channels, _, h2, w2 = coeffs.shape
    out = np.empty((batch, channels, 2 * h2, 2 * w2))
    for b in range(batch):
        for c in range(channels):
            sub = coeffs[b, c]
            out[b, c] = pywt.idwt2(
                (sub[0], (sub[1], sub[2], sub[3])), 'db1') * scale
    out = torch.from_numpy(out)
    if size is not None:
        out = out[:, :, :size[0], :size[1]]
    return out


def bank_dwt_ref(x, filters):
    """Analysis with an arbitrary (4C, 1, 2, 2) bank, as the official stride-2
    grouped conv2d: ``coef[c, k] = sum_ij filters[4c+k, 0, i, j] *
    x[c, 2h+i, 2w+j]``, looping over channels, subbands and taps."""
    x, filters = pad_even_ref(x.double()), filters.double()
    channels = x.shape[1]
    out = []
    for c in range(channels):
        bands = []
        for k in range(4):
            band = 0
            for i in range(2):
                for j in range(2):
                    band = band + (
                        filters[4 * c + k, 0, i, j] * x[:, c, i::2, j::2])
            bands.append(band)
        out.append(torch.stack(bands, dim=1))
    return torch.stack(out, dim=1)


def bank_idwt_ref(coeffs, filters, size=None):
    """Synthesis with an arbitrary bank, as the official stride-2 grouped
    conv_transpose2d: ``out[c, 2h+i, 2w+j] = sum_k filters[4c+k, 0, i, j] *
    coef[c, k, h, w]``, then cropped to ``size``."""
    coeffs, filters = coeffs.double(), filters.double()
    batch, channels, _, h2, w2 = coeffs.shape
    out = coeffs.new_zeros(batch, channels, 2 * h2, 2 * w2)
    for c in range(channels):
        for i in range(2):
            for j in range(2):
                tap = 0
                for k in range(4):
                    tap = tap + filters[4 * c + k, 0, i, j] * coeffs[:, c, k]
                out[:, c, i::2, j::2] = tap
    if size is not None:
        out = out[:, :, :size[0], :size[1]]
    return out


def wavelet_conv_ref(x, weight, scale, dwt=haar_dwt_ref, idwt=haar_idwt_ref):
    """SPEC section 8 wavelet branch: pad, Haar analysis, depthwise 'same'
    conv of all 4C subband channels (no bias), per-channel scale, synthesis,
    crop to the input size."""
    batch, channels, height, width = x.shape
    coeffs = dwt(x.double())  # pads odd sizes itself
    h2, w2 = coeffs.shape[-2:]
    coeffs = coeffs.reshape(batch, 4 * channels, h2, w2)
    coeffs = F.conv2d(
        coeffs,
        weight.double(),
        padding=(weight.shape[-2] // 2, weight.shape[-1] // 2),
        groups=4 * channels) * scale.double()
    return idwt(
        coeffs.reshape(batch, channels, 4, h2, w2), size=(height, width))

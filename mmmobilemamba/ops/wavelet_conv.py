"""The wavelet-domain branch of WTE-Mamba (one level of WTConv)."""
import functools

import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op
from .haar import haar_dwt, haar_filter_bank, haar_idwt

#: Every entry of the official Haar bank is +-HAAR_GAIN (float32(sqrt(.5))**2).
HAAR_GAIN = float(haar_filter_bank(1)[0, 0, 0, 0])


def wavelet_conv(x: Tensor, wt_filter: Tensor, iwt_filter: Tensor,
                 weight: Tensor, scale: Tensor) -> Tensor:
    """Haar analysis, depthwise conv of every subband, scale, synthesis.

    Args:
        x (Tensor): Shape (B, C, H, W); odd sizes are zero-padded at the
            bottom/right for the transform and cropped back afterwards.
        wt_filter (Tensor): Analysis bank, shape (4C, 1, 2, 2).
        iwt_filter (Tensor): Synthesis bank, shape (4C, 1, 2, 2).
        weight (Tensor): Depthwise kernel on the (B, 4C, H', W') subbands
            (channel ``4c + k`` is subband ``k`` of channel ``c``), shape
            (4C, 1, k, k) with odd k, zero 'same' padding, no bias.
        scale (Tensor): Per-subband scale, shape (1, 4C, 1, 1).

    Returns:
        Tensor: Shape (B, C, H, W).
    """
    return dispatch('wavelet_conv', x.device)(x, wt_filter, iwt_filter, weight,
                                              scale)


@register_op('wavelet_conv', 'torch')
def wavelet_conv_torch(x: Tensor, wt_filter: Tensor, iwt_filter: Tensor,
                       weight: Tensor, scale: Tensor) -> Tensor:
    """On the CPU, with the official Haar banks (the model's constant
    buffers), as :func:`_haar_wavelet_conv`. Any other bank, device (where
    checking the banks' values would synchronise) or a trace (ONNX export,
    whose conv needs a weight of known shape) takes the general
    :func:`~mmmobilemamba.ops.haar_dwt` / :func:`~mmmobilemamba.ops.haar_idwt`.
    """
    channels = x.shape[1]
    if x.device.type == 'cpu' and not torch.jit.is_tracing() \
            and is_haar_bank(wt_filter, channels) \
            and is_haar_bank(iwt_filter, channels):
        return _haar_wavelet_conv(x, weight, scale)
    batch, channels, height, width = x.shape
    coeffs = haar_dwt(x, wt_filter)
    h2, w2 = coeffs.shape[-2:]
    coeffs = coeffs.reshape(batch, 4 * channels, h2, w2)
    coeffs = F.conv2d(
        coeffs, weight, padding=weight.shape[-1] // 2,
        groups=4 * channels) * scale
    return haar_idwt(
        coeffs.view(batch, channels, 4, h2, w2), iwt_filter, (height, width))


@functools.lru_cache(maxsize=None)
def _official_bank(channels: int, dtype: torch.dtype,
                   device: torch.device) -> Tensor:
    return haar_filter_bank(channels).to(device, dtype)


def is_haar_bank(filters: Tensor, channels: int) -> bool:
    """Whether ``filters`` is the constant official bank for ``channels``."""
    return (not filters.requires_grad
            and filters.shape == (4 * channels, 1, 2, 2) and torch.equal(
                filters, _official_bank(channels, filters.dtype,
                                        filters.device)))


def fold_haar_weight(weight: Tensor, scale: Tensor, channels: int) -> Tensor:
    """The depthwise weight (4C, 1, k, k) times ``scale`` (1, 4C, 1, 1) and
    both official banks' gains, as (C, 4 subbands, k, k): what the conv sees
    when the Haar steps are left unscaled."""
    kernel = weight.shape[-1]
    return weight.view(channels, 4, kernel, kernel) * (
        scale.view(channels, 4, 1, 1) * HAAR_GAIN**2)


def _butterfly(a: Tensor, b: Tensor, dim: int) -> Tensor:
    """``stack([a + b, a - b], dim)``: one unnormalised 2-point Haar step."""
    return torch.stack([a + b, a - b], dim)


def _haar_wavelet_conv(x: Tensor, weight: Tensor, scale: Tensor) -> Tensor:
    """:func:`wavelet_conv` with the official banks, on (B, H, W, C) memory.

    Each transform is two add/subtract steps over the 2x2 patches, with
    whole channel vectors as the innermost dim. The banks' gains and
    ``scale`` are folded into the conv weight, and the conv runs on the
    subbands in subband-major channel order (``k * C + c``), which is the
    order the steps write.
    """
    batch, channels, height, width = x.shape
    if height % 2 or width % 2:
        x = F.pad(x, (0, width % 2, 0, height % 2))
    h2, w2 = x.shape[2] // 2, x.shape[3] // 2
    kernel = weight.shape[-1]
    patches = x.permute(0, 2, 3, 1).contiguous().view(batch, h2, 2, w2, 2,
                                                      channels)
    # Rows, then columns: (B, h2, w2, column step, row step, C), that is
    # subband k = 2 * column step + row step.
    rows = _butterfly(patches[:, :, 0], patches[:, :, 1], 3)
    coeffs = _butterfly(rows[..., 0, :], rows[..., 1, :], 3)
    coeffs = coeffs.view(batch, h2, w2, 4 * channels).permute(0, 3, 1, 2)
    weight = fold_haar_weight(weight, scale, channels).transpose(0, 1)
    coeffs = F.conv2d(
        coeffs,
        weight.reshape(4 * channels, 1, kernel, kernel),
        padding=kernel // 2,
        groups=4 * channels)
    coeffs = coeffs.permute(0, 2, 3, 1).reshape(batch, h2, w2, 2, 2, channels)
    # Undo the row step, then the column step, writing (B, h2, 2, w2, 2, C).
    rows = _butterfly(coeffs[..., 0, :], coeffs[..., 1, :], 4)
    rows = rows.transpose(3, 4).transpose(2, 3)  # (B, h2, row, w2, col, C)
    out = _butterfly(rows[..., 0, :], rows[..., 1, :], 4)
    out = out.view(batch, 2 * h2, 2 * w2, channels)
    return out.permute(0, 3, 1, 2)[:, :, :height, :width]

"""Single-level Haar (db1) wavelet transform and its inverse.

Written as a 2x2 patch gather followed by a per-channel 4x4 mix (and the
reverse), which is exactly the official stride-2 grouped ``conv2d`` /
``conv_transpose2d`` with the same filter bank, without the grouped
transposed convolution that is slow on GPU.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op


def haar_filter_bank(channels: int) -> Tensor:
    """The official db1 bank, shape (4 * channels, 1, 2, 2), float32.

    Entry ``4c + k`` is filter ``k`` (LL, detail along H, along W, diagonal),
    indexed [row, col], each scaled by float32(sqrt(0.5))**2 = 0.49999997.
    """
    a = math.sqrt(0.5)
    lo = torch.tensor([a, a], dtype=torch.float32)
    hi = torch.tensor([a, -a], dtype=torch.float32)
    bank = torch.stack([
        lo[:, None] * lo[None, :], hi[:, None] * lo[None, :],
        lo[:, None] * hi[None, :], hi[:, None] * hi[None, :]
    ])
    return bank[:, None].repeat(channels, 1, 1, 1)


def haar_dwt(x: Tensor, filters: Tensor) -> Tensor:
    """Haar analysis of (B, C, H, W) -> (B, C, 4, ceil(H/2), ceil(W/2)).

    An odd H (W) is first zero-padded by one row at the bottom (one column on
    the right). ``filters`` is the (4C, 1, 2, 2) bank of
    :func:`haar_filter_bank`; subband ``k`` of channel ``c`` is
    ``sum_ij filters[4c+k, 0, i, j] * x[c, 2h+i, 2w+j]``.
    """
    return dispatch('haar_dwt', x.device)(x, filters)


def haar_idwt(coeffs: Tensor,
              filters: Tensor,
              size: Optional[Tuple[int, int]] = None) -> Tensor:
    """Haar synthesis of (B, C, 4, H', W') -> (B, C, 2H', 2W'), cropped to
    ``size`` = (H, W) if given: ``out[c, 2h+i, 2w+j] = sum_k filters[4c+k, 0,
    i, j] * coeffs[c, k, h, w]``."""
    return dispatch('haar_idwt', coeffs.device)(coeffs, filters, size)


def _bank(filters: Tensor, channels: int, dtype: torch.dtype) -> Tensor:
    """(4C, 1, 2, 2) -> (C, 4 subbands, 4 patch positions)."""
    if filters.shape != (4 * channels, 1, 2, 2):
        raise ValueError(f'expected a (4*{channels}, 1, 2, 2) filter bank, '
                         f'got {tuple(filters.shape)}')
    return filters.reshape(channels, 4, 4).to(dtype)


@register_op('haar_dwt', 'torch')
def haar_dwt_torch(x: Tensor, filters: Tensor) -> Tensor:
    batch, channels, height, width = x.shape
    if height % 2 or width % 2:
        x = F.pad(x, (0, width % 2, 0, height % 2))
    h2, w2 = x.shape[2] // 2, x.shape[3] // 2
    # patches[b, c, 2i + j, h, w] = x[b, c, 2h + i, 2w + j]
    patches = x.reshape(batch, channels, h2, 2, w2, 2)
    patches = patches.permute(0, 1, 3, 5, 2, 4)
    patches = patches.reshape(batch, channels, 4, h2 * w2)
    coeffs = torch.matmul(_bank(filters, channels, x.dtype), patches)
    return coeffs.view(batch, channels, 4, h2, w2)


@register_op('haar_idwt', 'torch')
def haar_idwt_torch(coeffs: Tensor,
                    filters: Tensor,
                    size: Optional[Tuple[int, int]] = None) -> Tensor:
    batch, channels, _, h2, w2 = coeffs.shape
    bank = _bank(filters, channels, coeffs.dtype)
    patches = torch.matmul(
        bank.transpose(1, 2), coeffs.reshape(batch, channels, 4, h2 * w2))
    out = patches.view(batch, channels, 2, 2, h2, w2)
    out = out.permute(0, 1, 4, 2, 5, 3)
    out = out.reshape(batch, channels, 2 * h2, 2 * w2)
    if size is not None:
        out = out[:, :, :size[0], :size[1]]
    return out

"""The wavelet-domain branch of WTE-Mamba (one level of WTConv)."""
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op
from .haar import haar_dwt, haar_idwt


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
    batch, channels, height, width = x.shape
    coeffs = haar_dwt(x, wt_filter)
    h2, w2 = coeffs.shape[-2:]
    coeffs = coeffs.reshape(batch, 4 * channels, h2, w2)
    coeffs = F.conv2d(
        coeffs, weight, padding=weight.shape[-1] // 2,
        groups=4 * channels) * scale
    return haar_idwt(
        coeffs.view(batch, channels, 4, h2, w2), iwt_filter, (height, width))

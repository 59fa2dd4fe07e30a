"""Dense convolution of a map with few channels (the stem's first conv)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op
from .depthwise_conv import ACTIVATIONS


def stem_conv2d(x: Tensor,
                weight: Tensor,
                bias: Optional[Tensor] = None,
                stride: Union[int, Tuple[int, int]] = 1,
                padding: Union[int, Tuple[int, int]] = 0,
                activation: Optional[str] = None) -> Tensor:
    """``activation(conv2d(x, weight, bias, stride, padding))`` for an input
    of few channels, such as the RGB image entering the stem.

    Args:
        x (Tensor): Shape (B, C, H, W), any memory format.
        weight (Tensor): Shape (O, C, kh, kw).
        bias (Tensor, optional): Shape (O, ).
        stride (int | tuple[int, int]): Equal in both dims.
        padding (int | tuple[int, int]): Zero padding (ph, pw).
        activation (str, optional): ``None``, ``'relu'`` or ``'silu'``.

    Returns:
        Tensor: Shape (B, O, H', W'), channels-last on the CPU.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'activation={activation!r} is not supported by '
                         f'stem_conv2d; use one of {ACTIVATIONS}')
    return dispatch('stem_conv2d', x.device)(x, weight, bias, stride, padding,
                                             activation)


@register_op('stem_conv2d', 'torch')
def stem_conv2d_torch(x: Tensor,
                      weight: Tensor,
                      bias: Optional[Tensor] = None,
                      stride: Union[int, Tuple[int, int]] = 1,
                      padding: Union[int, Tuple[int, int]] = 0,
                      activation: Optional[str] = None) -> Tensor:
    if x.device.type == 'cpu':
        # oneDNN's convolutions run several times faster channels-last.
        x = x.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(x, weight, bias, stride, padding)
    if activation == 'relu':
        return F.relu(out)
    if activation == 'silu':
        return F.silu(out)
    return out

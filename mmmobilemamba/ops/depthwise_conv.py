"""Depthwise convolution with a fused activation and residual."""
from typing import Optional, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op

#: Activations that :func:`depthwise_conv2d` can apply to its output.
ACTIVATIONS = (None, 'relu', 'silu')


def depthwise_conv2d(x: Tensor,
                     weight: Tensor,
                     bias: Optional[Tensor] = None,
                     stride: Union[int, Tuple[int, int]] = 1,
                     padding: Union[int, Tuple[int, int]] = 0,
                     activation: Optional[str] = None,
                     residual: bool = False) -> Tensor:
    """``activation(conv2d(x, weight, bias, stride, padding, groups=C))``,
    plus ``x`` with ``residual``.

    Args:
        x (Tensor): Shape (B, C, H, W), any memory format.
        weight (Tensor): Shape (C, 1, kh, kw).
        bias (Tensor, optional): Shape (C, ).
        stride (int | tuple[int, int]): Equal in both dims.
        padding (int | tuple[int, int]): Zero padding (ph, pw).
        activation (str, optional): ``None``, ``'relu'`` or ``'silu'``.
        residual (bool): Add ``x`` to the output, which must have its
            shape.

    Returns:
        Tensor: Shape (B, C, H', W').
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'activation={activation!r} is not supported by '
                         f'depthwise_conv2d; use one of {ACTIVATIONS}')
    return dispatch('depthwise_conv2d',
                    x.device)(x, weight, bias, stride, padding, activation,
                              residual)


@register_op('depthwise_conv2d', 'torch')
def depthwise_conv2d_torch(x: Tensor,
                           weight: Tensor,
                           bias: Optional[Tensor] = None,
                           stride: Union[int, Tuple[int, int]] = 1,
                           padding: Union[int, Tuple[int, int]] = 0,
                           activation: Optional[str] = None,
                           residual: bool = False) -> Tensor:
    out = F.conv2d(x, weight, bias, stride, padding, groups=x.shape[1])
    if activation == 'relu':
        out = F.relu(out)
    elif activation == 'silu':
        out = F.silu(out)
    if residual:
        if out.shape != x.shape:
            raise ValueError(
                'depthwise_conv2d(residual=True) adds the input to the '
                f'output, but the conv maps {tuple(x.shape)} to '
                f'{tuple(out.shape)}; use stride 1 and padding k // 2')
        return x + out
    return out

"""Depthwise convolutions of MobileMamba."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmmobilemamba.ops import depthwise_conv2d
from mmmobilemamba.ops.depthwise_conv import ACTIVATIONS


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` (``groups = in = out channels``, same
    parameters and state dict) computed by
    :func:`~mmmobilemamba.ops.depthwise_conv2d`, optionally with its
    activation fused.

    Args:
        channels (int): Input and output channels.
        kernel_size (int | tuple[int, int]): Kernel size.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int]): Zero padding. Defaults to 0.
        activation (str, optional): ``None``, ``'relu'`` or ``'silu'``,
            applied to the output. Defaults to None.
        **kwargs: ``bias`` and the other ``nn.Conv2d`` arguments.

    Shape:
        (B, C, H, W) -> (B, C, H', W')
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups: int = 1,
                 activation: Optional[str] = None,
                 **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, **kwargs)
        if not (groups == in_channels == out_channels) or isinstance(
                padding, str) or self.dilation != (1, 1) or \
                self.padding_mode != 'zeros' or activation not in ACTIVATIONS:
            raise ValueError(
                'DepthwiseConv2d needs groups = in = out channels, integer '
                'zero padding, no dilation and an activation in '
                f'{ACTIVATIONS}; got {in_channels}->{out_channels} channels, '
                f'groups={groups}, padding={padding!r}, dilation='
                f'{self.dilation}, padding_mode={self.padding_mode!r}, '
                f'activation={activation!r}; use nn.Conv2d otherwise')
        self.activation = activation

    def forward(self, x: Tensor, residual: bool = False) -> Tensor:
        """With ``residual``, ``x`` is added to the output in the same pass
        (stride 1, 'same' padding)."""
        return depthwise_conv2d(x, self.weight, self.bias, self.stride,
                                self.padding, self.activation, residual)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.activation is not None:
            text += f', activation={self.activation!r}'
        return text


def depthwise_conv_bn(channels: int, norm_cfg: dict,
                      deploy: bool) -> ConvModule:
    """3x3 depthwise Conv-BN without activation (biased conv if deploy)."""
    return ConvModule(
        channels,
        channels,
        3,
        padding=1,
        groups=channels,
        conv_cfg=dict(type=DepthwiseConv2d),
        norm_cfg=None if deploy else norm_cfg,
        act_cfg=None,
        bias=deploy)


def add_depthwise_conv_bn(x: Tensor, module: ConvModule) -> Tensor:
    """``x + module(x)`` for a :func:`depthwise_conv_bn` ``module``; in the
    BN-fused form the add is part of the conv's pass over the map."""
    if module.with_norm:
        return x + module(x)
    return module.conv(x, residual=True)

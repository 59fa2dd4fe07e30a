"""The stem's first convolution."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from mmmobilemamba.ops import stem_conv2d
from mmmobilemamba.ops.depthwise_conv import ACTIVATIONS


class StemConv2d(nn.Conv2d):
    """A dense ``nn.Conv2d`` (same parameters and state dict) computed by
    :func:`~mmmobilemamba.ops.stem_conv2d`, for the few-channel image
    entering the stem: on the CPU it reads the image in either layout and
    writes a channels-last map.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Kernel size.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int]): Zero padding. Defaults to 0.
        activation (str, optional): ``None``, ``'relu'`` or ``'silu'``,
            applied to the output. Defaults to None.
        **kwargs: ``bias`` and the other ``nn.Conv2d`` arguments.

    Shape:
        (B, C, H, W) -> (B, O, H', W')
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
        if groups != 1 or isinstance(padding, str) or self.dilation != (
                1, 1) or self.padding_mode != 'zeros' or \
                activation not in ACTIVATIONS:
            raise ValueError(
                'StemConv2d needs groups=1, integer zero padding, no '
                f'dilation and an activation in {ACTIVATIONS}; got '
                f'groups={groups}, padding={padding!r}, dilation='
                f'{self.dilation}, padding_mode={self.padding_mode!r}, '
                f'activation={activation!r}; use nn.Conv2d otherwise')
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return stem_conv2d(x, self.weight, self.bias, self.stride,
                           self.padding, self.activation)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.activation is not None:
            text += f', activation={self.activation!r}'
        return text

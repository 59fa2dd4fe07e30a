"""Depthwise convolutions of MobileMamba."""
from mmcv.cnn import ConvModule
from torch import Tensor

from mmmobilemamba.ops import depthwise_conv2d
from .activated_conv import ActivatedConv2d


class DepthwiseConv2d(ActivatedConv2d):
    """A depthwise ``nn.Conv2d`` (``groups = in = out channels``, same
    parameters and state dict) computed by
    :func:`~mmmobilemamba.ops.depthwise_conv2d`, optionally with its
    activation fused. Arguments as :class:`ActivatedConv2d`.

    Shape:
        (B, C, H, W) -> (B, C, H', W')
    """

    groups_needed = 'groups = in = out channels'

    def computes_groups(self) -> bool:
        return self.groups == self.in_channels == self.out_channels

    def forward(self, x: Tensor, residual: bool = False) -> Tensor:
        """With ``residual``, ``x`` is added to the output in the same pass
        (stride 1, 'same' padding)."""
        return depthwise_conv2d(x, self.weight, self.bias, self.stride,
                                self.padding, self.activation, residual)


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

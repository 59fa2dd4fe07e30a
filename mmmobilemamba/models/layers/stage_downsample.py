"""Transition between two MobileMamba stages."""
from mmengine.model import BaseModule
from torch import Tensor

from .depthwise_conv import add_depthwise_conv_bn, depthwise_conv_bn
from .ffn import ConvFFN
from .patch_merging import PatchMerging


class StageDownsample(BaseModule):
    """The downsampling head of stages 2 and 3.

    ``x + DW(x)``, ``x + FFN(x)`` at ``in_channels``, :class:`PatchMerging`,
    then ``x + DW(x)``, ``x + FFN(x)`` at ``out_channels``, where DW is a
    3x3 depthwise Conv-BN.

    Shape:
        (B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.dw_pre = depthwise_conv_bn(in_channels, norm_cfg, deploy)
        self.ffn_pre = ConvFFN(in_channels, norm_cfg=norm_cfg, deploy=deploy)
        self.patch_merging = PatchMerging(in_channels, out_channels, norm_cfg,
                                          deploy)
        self.dw_post = depthwise_conv_bn(out_channels, norm_cfg, deploy)
        self.ffn_post = ConvFFN(out_channels, norm_cfg=norm_cfg, deploy=deploy)

    def forward(self, x: Tensor) -> Tensor:
        x = add_depthwise_conv_bn(x, self.dw_pre)
        x = x + self.ffn_pre(x)
        x = self.patch_merging(x)
        x = add_depthwise_conv_bn(x, self.dw_post)
        return x + self.ffn_post(x)

"""Stride-2 transition between two MobileMamba stages."""
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from .depthwise_conv import DepthwiseConv2d
from .pointwise_conv import PointwiseConv2d
from .squeeze_excitation import SqueezeExcitation


class PatchMerging(BaseModule):
    """1x1 Conv-BN-ReLU (C_in -> 4C_in), 3x3 stride-2 depthwise Conv-BN-ReLU,
    squeeze-excitation (hidden C_in), 1x1 Conv-BN (-> C_out).

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
        hidden = in_channels * 4
        norm_cfg = None if deploy else norm_cfg
        self.conv1 = ConvModule(
            in_channels,
            hidden,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            bias=deploy)
        self.conv2 = ConvModule(
            hidden,
            hidden,
            3,
            stride=2,
            padding=1,
            groups=hidden,
            conv_cfg=dict(type=DepthwiseConv2d),
            norm_cfg=norm_cfg,
            bias=deploy)
        self.se = SqueezeExcitation(hidden, in_channels)
        self.conv3 = ConvModule(
            hidden,
            out_channels,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            act_cfg=None,
            bias=deploy)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(self.se(self.conv2(self.conv1(x))))

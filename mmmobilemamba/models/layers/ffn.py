"""Pointwise feed-forward network of MobileMamba (EfficientViT style)."""
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from .pointwise_conv import PointwiseConv2d


class ConvFFN(BaseModule):
    """1x1 Conv-BN-ReLU (C -> ratio*C) then 1x1 Conv-BN (-> C).

    Args:
        channels (int): Input and output channels.
        ratio (int): Hidden expansion. Defaults to 2.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        deploy (bool): Build the BN-fused form (convs with bias, no BN).

    Shape:
        (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self,
                 channels: int,
                 ratio: int = 2,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        norm_cfg = None if deploy else norm_cfg
        self.pw1 = ConvModule(
            channels,
            channels * ratio,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            bias=deploy)
        self.pw2 = ConvModule(
            channels * ratio,
            channels,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            act_cfg=None,
            bias=deploy)

    def forward(self, x: Tensor) -> Tensor:
        return self.pw2(self.pw1(x))

"""The MobileMamba block."""
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor

from .checkpoint import checkpoint
from .depthwise_conv import add_depthwise_conv_bn, depthwise_conv_bn
from .ffn import ConvFFN
from .mrffi import MRFFI


class MobileMambaBlock(BaseModule):
    """``t = x``; then ``t += DW0(t)``, ``t += FFN0(t)``, ``t += MRFFI(t)``,
    ``t += DW1(t)``, ``t += FFN1(t)``; ``out = x + drop_path(t)``.

    ``t`` includes ``x``, so the identity path is counted twice
    (``out = 2x + ...`` in eval): that is what the official checkpoints were
    trained with, and drop path drops the whole ``t``.

    Args:
        channels (int): Channels C.
        kernel_size (int): Kernel of the MRFFI local and wavelet convs.
        global_ratio (float): MRFFI global share.
        local_ratio (float): MRFFI local share.
        ssm_ratio (float): SS2D inner-width ratio.
        drop_path_rate (float): Stochastic depth rate of this block.
        norm_cfg (dict): Norm layer config.
        with_cp (bool): Recompute the block in backward to save memory
            (training is unchanged: BN statistics are updated once).
        deploy (bool): Build the BN-fused form.

    Shape:
        (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 global_ratio: float,
                 local_ratio: float,
                 ssm_ratio: float = 2.0,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.dw0 = depthwise_conv_bn(channels, norm_cfg, deploy)
        self.ffn0 = ConvFFN(channels, norm_cfg=norm_cfg, deploy=deploy)
        self.mrffi = MRFFI(channels, kernel_size, global_ratio, local_ratio,
                           ssm_ratio, norm_cfg, deploy)
        self.dw1 = depthwise_conv_bn(channels, norm_cfg, deploy)
        self.ffn1 = ConvFFN(channels, norm_cfg=norm_cfg, deploy=deploy)
        self.drop_path = DropPath(drop_path_rate)

    def _branch(self, x: Tensor) -> Tensor:
        x = add_depthwise_conv_bn(x, self.dw0)
        x = x + self.ffn0(x)
        x = x + self.mrffi(x)
        x = add_depthwise_conv_bn(x, self.dw1)
        return x + self.ffn1(x)

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            t = checkpoint(self, self._branch, x)
        else:
            t = self._branch(x)
        return x + self.drop_path(t)

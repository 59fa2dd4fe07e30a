"""Multi-Receptive Field Feature Interaction (MRFFI) module."""
from typing import Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from .depthwise_conv import DepthwiseConv2d
from .pointwise_conv import PointwiseConv2d
from .wte_mamba import WTEMamba


def split_channels(channels: int, global_ratio: float,
                   local_ratio: float) -> Tuple[int, int, int]:
    """Channels of the (global, local, identity) parts, as the official code
    computes them: the global part is ``int(global_ratio * C)`` rounded to the
    nearest multiple of 16 (ties up), the local part ``int(local_ratio * C)``
    capped by what remains, the identity part the rest (may be 0)."""
    global_ch = int(global_ratio * channels)
    global_ch = (global_ch + 8) // 16 * 16
    local_ch = int(local_ratio * channels)
    if global_ch + local_ch > channels:
        local_ch = channels - global_ch
    return global_ch, local_ch, channels - global_ch - local_ch


class MRFFI(BaseModule):
    """Split channels into a global part (WTE-Mamba), a local part
    (MK-DeConv: depthwise k x k Conv-BN-ReLU then a per-channel 1x1 Conv-BN)
    and an untouched identity part; concatenate, ReLU, 1x1 Conv-BN.

    Args:
        channels (int): Channels C.
        kernel_size (int): Kernel of the local and wavelet-domain convs.
        global_ratio (float): Share of the global part.
        local_ratio (float): Share of the local part.
        ssm_ratio (float): SS2D inner-width ratio.
        norm_cfg (dict): Norm layer config.
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
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.split = split_channels(channels, global_ratio, local_ratio)
        global_ch, local_ch, _ = self.split
        if global_ch <= 0 or local_ch <= 0:
            raise ValueError(
                f'global_ratio={global_ratio} and local_ratio={local_ratio} '
                f'give {global_ch} global and {local_ch} local channels out '
                f'of {channels}; both parts need at least one channel')
        conv_norm = None if deploy else norm_cfg
        self.wte_mamba = WTEMamba(
            global_ch,
            kernel_size,
            ssm_ratio=ssm_ratio,
            norm_cfg=norm_cfg,
            deploy=deploy)
        self.local_op = nn.Sequential(
            ConvModule(
                local_ch,
                local_ch,
                kernel_size,
                padding=kernel_size // 2,
                groups=local_ch,
                conv_cfg=dict(type=DepthwiseConv2d),
                norm_cfg=conv_norm,
                bias=deploy),
            ConvModule(
                local_ch,
                local_ch,
                1,
                groups=local_ch,
                conv_cfg=dict(type=PointwiseConv2d),
                norm_cfg=conv_norm,
                act_cfg=None,
                bias=deploy))
        self.proj = ConvModule(
            channels,
            channels,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=conv_norm,
            bias=deploy,
            order=('act', 'conv', 'norm'))

    def forward(self, x: Tensor) -> Tensor:
        x_global, x_local, x_id = torch.split(x, self.split, dim=1)
        parts = [self.wte_mamba(x_global), self.local_op(x_local)]
        if x_id.shape[1]:
            # An empty part would make cat drop the channels-last layout.
            parts.append(x_id)
        return self.proj(torch.cat(parts, dim=1))

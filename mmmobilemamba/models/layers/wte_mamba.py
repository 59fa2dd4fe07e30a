"""WTE-Mamba: global SS2D plus a Haar-wavelet-domain depthwise conv."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmmobilemamba.ops import haar_filter_bank, wavelet_conv
from .ss2d import SS2D


class WTEMamba(BaseModule):
    """Wavelet-Transform-Enhanced Mamba (the official ``MBWTConv2d``).

    ``out = base_scale * SS2D(x) + IWT(wavelet_scale * DWConv_k(WT(x)))``
    where WT/IWT is a one-level Haar transform (odd sizes zero-padded at the
    bottom/right, then cropped back) and the k x k depthwise conv acts on all
    four subbands. The Haar banks ``wt_filter``/``iwt_filter`` are constant
    buffers kept in the state dict, as in the official checkpoints.

    Args:
        channels (int): Channels C.
        kernel_size (int): Odd kernel size of the wavelet-domain conv.
        ssm_ratio (float): SS2D inner-width ratio.
        norm_cfg (dict): Norm of the SS2D projections.
        deploy (bool): Build the SS2D projections BN-fused.

    Shape:
        (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 ssm_ratio: float = 2.0,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.register_buffer('wt_filter', haar_filter_bank(channels))
        self.register_buffer('iwt_filter', haar_filter_bank(channels))
        self.ss2d = SS2D(
            channels, ssm_ratio=ssm_ratio, norm_cfg=norm_cfg, deploy=deploy)
        self.base_scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.wavelet_conv = nn.Conv2d(
            4 * channels,
            4 * channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=4 * channels,
            bias=False)
        self.wavelet_scale = nn.Parameter(
            torch.full((1, 4 * channels, 1, 1), 0.1))

    def forward(self, x: Tensor) -> Tensor:
        x_tag = wavelet_conv(x, self.wt_filter, self.iwt_filter,
                             self.wavelet_conv.weight, self.wavelet_scale)
        return torch.addcmul(x_tag, self.base_scale, self.ss2d(x))

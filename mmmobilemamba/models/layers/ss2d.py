"""SS2D with a bidirectional d_state=1 selective scan (MobileMamba's v052d)."""
import math

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmmobilemamba.ops import bidi_selective_scan, layer_norm_silu_gate
from .depthwise_conv import DepthwiseConv2d
from .pointwise_conv import PointwiseConv2d


class SS2D(BaseModule):
    """2D selective-scan block, channels first.

    ``in_proj`` (1x1 Conv-BN, C -> 2*Di) gives the scan input ``u`` and the
    gate ``z``; ``u`` goes through a biased 3x3 depthwise conv and SiLU, is
    scanned along the flattened map in both directions
    (:func:`~mmmobilemamba.ops.bidi_selective_scan`), normalised over
    channels by LayerNorm, gated by ``SiLU(z)`` and projected back by
    ``out_proj`` (1x1 Conv-BN, Di -> C).

    Args:
        channels (int): Input/output channels C.
        ssm_ratio (float): Inner width ``Di = int(ssm_ratio * C)``.
        dt_rank (int | 'auto'): Rank R of the step-size projection;
            ``'auto'`` is ``ceil(C / 16)``.
        norm_cfg (dict): Norm of ``in_proj``/``out_proj``.
        deploy (bool): Build ``in_proj``/``out_proj`` BN-fused.

    Shape:
        (B, C, H, W) -> (B, C, H, W)
    """

    d_state = 1
    directions = 2

    def __init__(self,
                 channels: int,
                 ssm_ratio: float = 2.0,
                 dt_rank='auto',
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        inner = int(ssm_ratio * channels)
        rank = math.ceil(channels / 16) if dt_rank == 'auto' else dt_rank
        k, n = self.directions, self.d_state
        self.inner_channels, self.dt_rank = inner, rank

        self.x_proj_weight = nn.Parameter(torch.empty(k, rank + 2 * n, inner))
        self.Ds = nn.Parameter(torch.empty(k * inner))
        self.A_logs = nn.Parameter(torch.empty(k * inner, n))
        self.dt_projs_weight = nn.Parameter(torch.empty(k, inner, rank))
        self.dt_projs_bias = nn.Parameter(torch.empty(k, inner))
        self.out_norm = nn.LayerNorm(inner)
        norm_cfg = None if deploy else norm_cfg
        self.in_proj = ConvModule(
            channels,
            2 * inner,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            act_cfg=None,
            bias=deploy)
        self.dw_conv = DepthwiseConv2d(
            inner,
            inner,
            3,
            padding=1,
            groups=inner,
            bias=True,
            activation='silu')
        self.out_proj = ConvModule(
            inner,
            channels,
            1,
            conv_cfg=dict(type=PointwiseConv2d),
            norm_cfg=norm_cfg,
            act_cfg=None,
            bias=deploy)
        self.reset_ssm_parameters()

    @torch.no_grad()
    def reset_ssm_parameters(self) -> None:
        """The official MobileMamba initialisation (VMamba's
        ``initialize='v2'``): ``A_logs = 0`` (``A = -1``), ``D = 1``, step
        projection weights and biases ``0.1 * U(0, 1)``, and ``x_proj`` as
        PyTorch initialises the ``nn.Linear`` it is stacked from (uniform in
        +-1/sqrt(inner))."""
        bound = self.inner_channels**-0.5
        nn.init.uniform_(self.x_proj_weight, -bound, bound)
        nn.init.uniform_(self.dt_projs_weight, 0., 0.1)
        nn.init.uniform_(self.dt_projs_bias, 0., 0.1)
        self.A_logs.zero_()
        self.Ds.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        u, z = self.in_proj(x).chunk(2, dim=1)
        u = self.dw_conv(u)  # SiLU fused
        y = bidi_selective_scan(u, self.x_proj_weight, self.dt_projs_weight,
                                self.dt_projs_bias, self.A_logs, self.Ds)
        y = layer_norm_silu_gate(
            y.view_as(u), z, self.out_norm.weight, self.out_norm.bias,
            self.out_norm.eps)
        return self.out_proj(y)

"""FPN with transposed-conv levels finer than the finest backbone level."""
from typing import List, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.necks import FPN
from torch import Tensor

from mmmobilemamba.registry import MODELS


@MODELS.register_module()
class TransConvFPN(FPN):
    """FPN that also upsamples its finest level with transposed convs.

    MobileMamba's finest output has stride 16, so detectors that expect
    stride-4 or stride-8 maps get them from the finest lateral (after the
    top-down sum): ``num_extra_trans_convs`` successive 2x2 stride-2
    transposed convs; ``extra_fpn_convs[i]`` (3x3) then refines the i-th
    finest of them, so ``extra_trans_convs.0`` makes stride 8 while
    ``extra_fpn_convs.0`` refines stride 4 when there are two. This is the
    neck, with the parameter names, that the official detection code calls
    ``EfficientViTFPN``, so its checkpoints load unchanged.

    Outputs, highest resolution first: the ``num_extra_trans_convs`` finer
    levels, the FPN levels of the used backbone levels, then
    ``num_outs - used levels - num_extra_trans_convs`` coarser levels made
    as :class:`mmdet.models.necks.FPN` makes them (max-pool or
    ``add_extra_convs``).

    Args:
        in_channels (list[int]): Channels of each backbone level.
        out_channels (int): Channels C of every output.
        num_outs (int): Number of outputs, finer levels included.
        num_extra_trans_convs (int): Number of finer levels. Defaults to 0
            (a plain FPN).
        **kwargs: The other arguments of :class:`mmdet.models.necks.FPN`.

    Shapes:
        - inputs: tuple of (N, in_channels[i], H_i, W_i), strides s_i
          doubling from level to level.
        - outputs: tuple of ``num_outs`` (N, C, H, W) maps at strides
          ``s_start / 2**num_extra_trans_convs`` doubling up to the coarsest.

    Example:
        >>> import torch
        >>> neck = TransConvFPN([200, 376, 448], 256, num_outs=5,
        ...                     num_extra_trans_convs=2)
        >>> feats = [torch.rand(1, c, 32 // 2**i, 32 // 2**i)
        ...          for i, c in enumerate([200, 376, 448])]
        >>> [tuple(o.shape[2:]) for o in neck(feats)]
        [(128, 128), (64, 64), (32, 32), (16, 16), (8, 8)]
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 num_extra_trans_convs: int = 0,
                 **kwargs) -> None:
        if num_extra_trans_convs < 0:
            raise ValueError('num_extra_trans_convs must be >= 0, got '
                             f'{num_extra_trans_convs}')
        super().__init__(in_channels, out_channels,
                         num_outs - num_extra_trans_convs, **kwargs)
        self.num_outs = num_outs
        self.num_extra_trans_convs = num_extra_trans_convs
        conv_cfg = kwargs.get('conv_cfg')
        norm_cfg = kwargs.get('norm_cfg')
        act_cfg = kwargs.get('act_cfg')
        self.extra_trans_convs = nn.ModuleList()
        self.extra_fpn_convs = nn.ModuleList()
        for _ in range(num_extra_trans_convs):
            self.extra_trans_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    2,
                    stride=2,
                    bias=True,
                    conv_cfg=dict(type='deconv'),
                    norm_cfg=None if self.no_norm_on_lateral else norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))
            self.extra_fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))

    def _check_inputs(self, inputs: Sequence[Tensor]) -> None:
        got = [x.shape[1] for x in inputs]
        if got != list(self.in_channels):
            raise ValueError(
                f'{type(self).__name__} was built with in_channels='
                f'{list(self.in_channels)} but the backbone outputs '
                f'{len(got)} levels with channels {got}; set the neck\'s '
                f'in_channels={got} (or change the backbone\'s out_indices)')

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """(N, in_channels[i], H_i, W_i) levels -> ``num_outs`` (N, C, H,
        W) maps, highest resolution first."""
        self._check_inputs(inputs)
        laterals = [
            conv(inputs[self.start_level + i])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(
                    laterals[i],
                    size=laterals[i - 1].shape[2:],
                    **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up

        used = len(laterals)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        num_coarse = self.num_outs - self.num_extra_trans_convs - used
        if num_coarse > 0 and not self.add_extra_convs:
            for _ in range(num_coarse):
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        elif num_coarse > 0:
            source = dict(
                on_input=inputs[self.backbone_end_level - 1],
                on_lateral=laterals[-1],
                on_output=outs[-1])[self.add_extra_convs]
            for i in range(used, used + num_coarse):
                if i > used and self.relu_before_extra_convs:
                    source = F.relu(source)
                source = self.fpn_convs[i](source)
                outs.append(source)

        upsampled = []  # finest first
        x = laterals[0]
        for trans_conv in self.extra_trans_convs:
            x = trans_conv(x)
            upsampled.insert(0, x)
        finer = [conv(x) for conv, x in zip(self.extra_fpn_convs, upsampled)]
        return tuple(finer + outs)

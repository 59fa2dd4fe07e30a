"""MobileMamba backbone."""
import pickle
import warnings
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, fuse_conv_bn
from mmengine.model import BaseModule, ModuleList, Sequential
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmmobilemamba.registry import MODELS
from ..layers import (SS2D, MobileMambaBlock, StageDownsample, StemConv2d,
                      fold_activations)
from ..layers.foldable_norm import is_foldable_norm
from ..utils import IncompatibleCheckpointError, check_state_dict


def _cpu_autocast_enabled() -> bool:
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


# What torch.load raises for a truncated, corrupt or code-carrying file.
_UNREADABLE_CHECKPOINT_ERRORS = (pickle.UnpicklingError, RuntimeError,
                                 EOFError, KeyError)


class MobileMambaStage(BaseModule):
    """An optional :class:`StageDownsample` followed by MobileMamba blocks.

    Shape:
        (B, C_in, H, W) -> (B, C_out, H', W'), H' = ceil(H/2) with a
        downsample, H otherwise.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 depth: int,
                 kernel_size: int,
                 global_ratio: float,
                 local_ratio: float,
                 ssm_ratio: float,
                 drop_path_rates: Sequence[float],
                 downsample: bool,
                 norm_cfg: dict,
                 with_cp: bool,
                 deploy: bool,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.downsample = StageDownsample(in_channels, out_channels, norm_cfg,
                                          deploy) if downsample else None
        self.blocks = Sequential(*[
            MobileMambaBlock(
                out_channels,
                kernel_size,
                global_ratio,
                local_ratio,
                ssm_ratio=ssm_ratio,
                drop_path_rate=drop_path_rates[i],
                norm_cfg=norm_cfg,
                with_cp=with_cp,
                deploy=deploy) for i in range(depth)
        ])

    def forward(self, x: Tensor) -> Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        return self.blocks(x)


@MODELS.register_module()
class MobileMamba(BaseModule):
    """MobileMamba: Lightweight Multi-Receptive Visual Mamba Network.

    A PyTorch implementation of `MobileMamba
    <https://arxiv.org/abs/2411.15941>`_ (CVPR 2025), numerically equivalent to
    the official implementation
    <https://github.com/lewandofskee/MobileMamba>. Official checkpoints are
    converted by ``tools/model_converters/mobilemamba_to_mmpretrain.py``.

    The network is a stride-16 convolutional stem followed by three stages of
    MobileMamba blocks; stages 2 and 3 start with a stride-2 downsample.
    Feature levels, as used by ``out_indices`` and ``frozen_stages``:

    ====== ======== ====== ==================
    level  module   stride channels
    ====== ======== ====== ==================
    0      stem     16     ``embed_dims[0]``
    1      stage 1  16     ``embed_dims[0]``
    2      stage 2  32     ``embed_dims[1]``
    3      stage 3  64     ``embed_dims[2]``
    ====== ======== ====== ==================

    Args:
        arch (str | dict): One of ``'t2', 't4', 's6', 'b1', 'b2', 'b4'`` or a
            dict with exactly the keys of :attr:`arch_zoo` entries:
            ``embed_dims``, ``depths``, ``kernel_sizes``, ``global_ratios``,
            ``local_ratios`` (one value per stage), ``ssm_ratio`` and
            ``drop_path_rate``. B1, B2 and B4 are one network, trained at
            resolution 256, 384 and 512.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Levels to output (see the table;
            negative values count from the end). Defaults to -1 (stage 3).
        frozen_stages (int): Freeze levels ``0..frozen_stages`` (parameters
            fixed, BN in eval mode); -1 freezes nothing. Defaults to -1.
        drop_path_rate (float, optional): Maximum stochastic depth rate, in
            [0, 1), spread linearly over the blocks. Defaults to the arch's
            value.
        norm_cfg (dict): Norm layer config, e.g. ``dict(type='SyncBN')``.
            Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep BN layers in eval mode during training.
            Defaults to False.
        with_cp (bool): Use checkpointing in each block to save memory.
            Defaults to False.
        deploy (bool): Build the BN-fused (inference) form, which loads the
            state dict written after :meth:`switch_to_deploy`; norms other
            than BN (GN, IN, ...) stay. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.

    Shape:
        (B, in_channels, H, W) -> tuple of (B, C_i, ceil(H/s_i), ceil(W/s_i))
        for each level i in ``out_indices``, s_i its stride.

    Example:
        >>> import torch
        >>> from mmmobilemamba.models import MobileMamba
        >>> model = MobileMamba('t2', out_indices=(1, 2, 3)).eval()
        >>> for out in model(torch.rand(1, 3, 192, 192)):
        ...     print(tuple(out.shape))
        (1, 144, 12, 12)
        (1, 272, 6, 6)
        (1, 368, 3, 3)
    """

    _common = dict(
        kernel_sizes=[7, 5, 3],
        global_ratios=[0.8, 0.7, 0.6],
        local_ratios=[0.2, 0.2, 0.3],
        ssm_ratio=2.0)
    _b_series = dict(
        embed_dims=[200, 376, 448],
        depths=[2, 3, 2],
        drop_path_rate=0.03,
        **_common)
    arch_zoo = {
        't2':
        dict(
            embed_dims=[144, 272, 368],
            depths=[1, 2, 2],
            drop_path_rate=0.,
            **_common),
        't4':
        dict(
            embed_dims=[176, 368, 448],
            depths=[1, 2, 2],
            drop_path_rate=0.,
            **_common),
        's6':
        dict(
            embed_dims=[192, 384, 448],
            depths=[1, 2, 2],
            drop_path_rate=0.,
            **_common),
        'b1':
        _b_series,
        'b2':
        _b_series,
        'b4':
        _b_series,
    }
    #: Total stride of each output level.
    level_strides = (16, 16, 32, 64)
    num_levels = 4

    def __init__(self,
                 arch: Union[str, Dict] = 't2',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 frozen_stages: int = -1,
                 drop_path_rate: Optional[float] = None,
                 norm_cfg: dict = dict(type='BN'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        depths = self.arch_settings['depths']
        self.embed_dims = embed_dims
        self.in_channels = in_channels
        self.out_indices = self._parse_out_indices(out_indices)
        if not -1 <= frozen_stages < self.num_levels:
            raise ValueError(
                f'frozen_stages must be in [-1, {self.num_levels - 1}] '
                '(-1: nothing, 0: the stem, k: the stem and stages 1..k), '
                f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy
        if drop_path_rate is None:
            drop_path_rate = self.arch_settings['drop_path_rate']
        self.drop_path_rate = self._check_drop_path_rate(drop_path_rate)

        # The deploy form has BN folded into the convs; other norms stay.
        fold_norms = deploy and is_foldable_norm(norm_cfg)
        conv_norm = None if fold_norms else norm_cfg
        stem_channels = [
            in_channels, embed_dims[0] // 8, embed_dims[0] // 4,
            embed_dims[0] // 2, embed_dims[0]
        ]
        self.patch_embed = Sequential(*[
            ConvModule(
                stem_channels[i],
                stem_channels[i + 1],
                3,
                stride=2,
                padding=1,
                conv_cfg=dict(type=StemConv2d) if i == 0 else None,
                norm_cfg=conv_norm,
                act_cfg=dict(type='ReLU') if i < 3 else None,
                bias=fold_norms) for i in range(4)
        ])

        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        for i, depth in enumerate(depths):
            self.stages.append(
                MobileMambaStage(
                    embed_dims[max(i - 1, 0)],
                    embed_dims[i],
                    depth,
                    self.arch_settings['kernel_sizes'][i],
                    self.arch_settings['global_ratios'][i],
                    self.arch_settings['local_ratios'][i],
                    self.arch_settings['ssm_ratio'],
                    rates[sum(depths[:i]):sum(depths[:i + 1])],
                    downsample=i > 0,
                    norm_cfg=norm_cfg,
                    with_cp=with_cp,
                    deploy=fold_norms))
        self.out_channels = [embed_dims[0]] + list(embed_dims)
        if deploy:
            fold_activations(self)
        self._freeze_stages()

    @classmethod
    def _parse_arch(cls, arch: Union[str, Dict]) -> Dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise ValueError(
                    f'unknown MobileMamba arch {arch!r}; choose one of '
                    f'{sorted(cls.arch_zoo)} or pass a dict with the keys '
                    f'{sorted(cls.arch_zoo["t2"])}')
            return dict(cls.arch_zoo[key])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got {arch!r}')
        required = set(cls.arch_zoo['t2'])
        missing, extra = required - set(arch), set(arch) - required
        if missing or extra:
            found = [
                f'{what} {sorted(keys)}'
                for what, keys in (('missing', missing), ('unexpected', extra))
                if keys
            ]
            raise ValueError(
                'a custom MobileMamba arch dict needs exactly the keys '
                f'{sorted(required)}; {", ".join(found)}')
        for key in ('embed_dims', 'depths', 'kernel_sizes', 'global_ratios',
                    'local_ratios'):
            if len(arch[key]) != 3:
                raise ValueError(f'arch[{key!r}] needs one value per stage '
                                 f'(3), got {arch[key]!r}')
        return dict(arch)

    @staticmethod
    def _check_drop_path_rate(rate) -> float:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
                or not 0 <= rate < 1:
            raise ValueError(
                'drop_path_rate (the stochastic depth rate of the last '
                "block, given or the arch's) must be a number in [0, 1), "
                f'got {rate!r}')
        return rate

    def _parse_out_indices(self, out_indices) -> List[int]:
        if isinstance(out_indices, int) and not isinstance(out_indices, bool):
            out_indices = [out_indices]
        if isinstance(out_indices, str) or \
                not isinstance(out_indices, Sequence) or not out_indices or \
                any(isinstance(i, bool) or not isinstance(i, int)
                    for i in out_indices):
            raise TypeError('out_indices must be an int or a non-empty '
                            f'sequence of ints, got {out_indices!r}')
        parsed = []
        for index in out_indices:
            if not -self.num_levels <= index < self.num_levels:
                raise ValueError(
                    f'out_indices entry {index} is out of range: levels are '
                    '0 (stem, stride 16), 1 (stage 1, stride 16), 2 (stage 2, '
                    'stride 32), 3 (stage 3, stride 64), or -4..-1')
            if index % self.num_levels in parsed:
                raise ValueError(
                    f'out_indices {tuple(out_indices)} lists level '
                    f'{index % self.num_levels} twice (-1 is level 3, -4 '
                    'level 0); list each level once')
            parsed.append(index % self.num_levels)
        return parsed

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError('MobileMamba expects a 4D (B, C, H, W) input, '
                             f'got shape {tuple(x.shape)}')
        self._check_dtype(x)
        if torch.jit.is_tracing():
            # Sizes are tensors while tracing: the example input is checked
            # as constants (the trace records none of it), without warnings.
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', torch.jit.TracerWarning)
                shape = tuple(int(size) for size in x.shape)
        else:
            shape = tuple(x.shape)
        if shape[1] != self.in_channels:
            raise ValueError(
                f'MobileMamba was built for {self.in_channels}-channel '
                f'inputs, got {shape[1]} channels (shape {shape}); convert '
                f'the images or set in_channels={shape[1]}')
        stride = self.level_strides[max(self.out_indices)]
        if min(shape[2:]) < stride:
            raise ValueError(
                f'input of size {shape[2]}x{shape[3]} is smaller than the '
                f'total stride {stride} of the deepest requested level '
                f'{max(self.out_indices)}; resize inputs to at least '
                f'{stride}x{stride} or request shallower out_indices')

    def _check_dtype(self, x: Tensor) -> None:
        if not x.is_floating_point():
            raise TypeError(
                f'MobileMamba expects floating-point images, got {x.dtype}; '
                'convert them to float and normalise them, e.g. '
                '(x.float() - mean) / std as the data_preprocessor does')
        if x.device.type != 'cpu' or _cpu_autocast_enabled():
            return
        weight = self.patch_embed[0].conv.weight
        if weight.dtype in (torch.float16, torch.bfloat16):
            raise TypeError(
                f"MobileMamba's weights are {weight.dtype}, which the CPU "
                'kernels do not run; keep the model float32 (model.float()) '
                'and run in reduced precision under '
                "torch.autocast('cpu', dtype=torch.bfloat16)")
        if x.dtype != weight.dtype:
            raise TypeError(
                f"the input is {x.dtype} but MobileMamba's weights are "
                f'{weight.dtype}; cast the input with x.to({weight.dtype}), '
                "or run under torch.autocast('cpu', dtype=...) for reduced "
                'precision')

    def forward(self, x: Tensor) -> tuple:
        self._check_input(x)
        # On the CPU the first conv writes a channels-last map (oneDNN's
        # convolutions run several times faster so); every layer keeps it.
        levels = [self.patch_embed(x)]
        for stage in self.stages[:max(self.out_indices)]:
            levels.append(stage(levels[-1]))
        # Contiguous outputs: CPU kernels downstream (e.g. mmcv's RoIAlign)
        # may read their inputs as NCHW memory.
        return tuple(levels[i].contiguous() for i in self.out_indices)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.patch_embed] + list(self.stages[:self.frozen_stages])

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            self._init_from_pretrained()
            return
        super().init_weights()
        if self.init_cfg is None:
            self._init_as_official()
        # The block layout is EfficientViT's, whose Conv2d_BN zero-inits the
        # BN gain that closes a block's depthwise, FFN and mixer branches and
        # every FFN branch, so those residual branches start at zero.
        for name, module in self.named_modules():
            if name.endswith(('dw0.bn', 'dw1.bn', 'pw2.bn', 'mrffi.proj.bn')):
                nn.init.zeros_(module.weight)

    def _init_as_official(self) -> None:
        """From-scratch initialisation of the official code: every conv
        keeps PyTorch's default (kaiming-uniform, a=sqrt(5); ConvModule's
        kaiming-normal fan-out gives depthwise convs 7x smaller weights) and
        SS2D its ``initialize='v2'`` values."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()
            elif isinstance(module, SS2D):
                module.reset_ssm_parameters()

    def _init_from_pretrained(self) -> None:
        """``init_cfg=dict(type='Pretrained', ...)``: all or nothing (a failed
        load leaves the weights as they were), with a clear error for a file
        that cannot be read (torch's own errors for a corrupt file can be
        bare, e.g. ``KeyError: 101`` or an empty ``EOFError``)."""
        before = {k: v.clone() for k, v in self.state_dict().items()}
        try:
            super().init_weights()
        except BaseException as err:
            with torch.no_grad():
                for key, value in self.state_dict().items():
                    value.copy_(before[key])
            if isinstance(err, IncompatibleCheckpointError) or \
                    not isinstance(err, _UNREADABLE_CHECKPOINT_ERRORS):
                raise
            raise RuntimeError(
                'cannot read the pretrained checkpoint '
                f'{self.init_cfg.get("checkpoint")!r} of MobileMamba '
                f'({type(err).__name__}: {err}). It is read with '
                'torch.load(..., weights_only=True): a truncated or corrupt '
                'file must be downloaded or saved again, and a file whose '
                'unpickling needs code is refused (convert official '
                'checkpoints with tools/model_converters/'
                'mobilemamba_to_mmpretrain.py)') from err

    def switch_to_deploy(self) -> None:
        """Fuse every BatchNorm (SyncBN included) into its convolution,
        and the ReLUs that can follow into their convolutions' kernels, in
        place. Other norms (GN, IN, ...) cannot be fused and stay: outputs
        are unchanged, and the layout is the one ``deploy=True`` builds."""
        if self.deploy:
            return
        fuse_conv_bn(self)  # leaves an nn.Identity where a BN was
        for module in self.modules():
            if isinstance(module, ConvModule) and module.with_norm \
                    and isinstance(module.norm, nn.Identity):
                module.with_norm = False
                delattr(module, module.norm_name)
        fold_activations(self)
        self.deploy = True

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        # Validate the whole subtree before any tensor is copied, so that a
        # mismatching checkpoint raises and leaves the weights as they were.
        check_state_dict(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

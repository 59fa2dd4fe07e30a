"""FLOPs and parameters of MobileMamba models, custom ops included.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (a port of fvcore) traces
a model and counts only the ops it has a handle for. On the pure-PyTorch ops
it silently skips the selective-scan recurrence (its Python loop unrolls into
hundreds of unhandled element-wise ops), rounds the einsum projections to
three significant digits and counts the broadcast Haar matmuls for one
sample whatever the batch. While :class:`MobileMambaFlopAnalyzer` traces,
:func:`counted_ops` routes the two ops of :mod:`mmmobilemamba.ops` that hold
them, through their one dispatch point, to a backend that runs each call as
a single traced node, and a handle counts that node from its input shapes:

* ``bidi_selective_scan``: the x / dt projections as matmuls plus VMamba's
  selective-scan count ``9*B*L*D*N + B*D*L`` (D skip, no z) with
  ``D = K * Di`` scanned channels (:func:`bidi_selective_scan_flops`);
* ``wavelet_conv``: Haar analysis and synthesis as the official stride-2
  2x2 grouped convolutions plus the subband depthwise conv; the per-subband
  scale is element-wise and, as in fvcore, not counted
  (:func:`wavelet_conv_flops`).

Like fvcore, a FLOP is one multiply-add (MAC).
"""
import math
from collections import Counter
from contextlib import ExitStack, contextmanager
from copy import deepcopy
from functools import partial
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch import Tensor

from mmmobilemamba.ops import register_op, use_backend
from mmmobilemamba.ops.bidi_selective_scan import bidi_selective_scan_torch
from mmmobilemamba.ops.wavelet_conv import wavelet_conv_torch

#: Name of the dispatch backend that makes an op one traced node.
COUNTING_BACKEND = 'flop_count'


def selective_scan_flops(batch: int,
                         length: int,
                         channels: int,
                         d_state: int,
                         with_d: bool = True,
                         with_z: bool = False) -> int:
    """VMamba's FLOPs of one selective scan over ``channels`` sequences
    (``flops_selective_scan_fn``): ``9*B*L*D*N``, plus ``B*D*L`` for the
    ``D`` skip and for a ``z`` gate."""
    flops = 9 * batch * length * channels * d_state
    return flops + (int(with_d) + int(with_z)) * batch * channels * length


def bidi_selective_scan_flops(x_shape: Sequence[int],
                              x_proj_shape: Sequence[int],
                              dt_proj_shape: Sequence[int],
                              a_shape: Sequence[int]) -> Counter:
    """FLOPs of one :func:`~mmmobilemamba.ops.bidi_selective_scan` call,
    from the shapes of ``x`` (B, Di, H, W), ``x_proj_weight`` (K, R + 2N, Di),
    ``dt_projs_weight`` (K, Di, R) and ``A_logs`` (K * Di, N).

    Returns:
        Counter: ``ssm_projection`` (x_proj and dt_proj matmuls) and
        ``selective_scan`` (the recurrence over ``K * Di`` channels).
    """
    batch, inner = x_shape[:2]
    length = math.prod(x_shape[2:])
    directions, proj_out = x_proj_shape[:2]
    rank, d_state = dt_proj_shape[-1], a_shape[-1]
    steps = batch * length * directions * inner
    scan = selective_scan_flops(batch, length, directions * inner, d_state)
    return Counter(
        ssm_projection=steps * (proj_out + rank), selective_scan=scan)


def wavelet_conv_flops(x_shape: Sequence[int], filter_shape: Sequence[int],
                       weight_shape: Sequence[int]) -> Counter:
    """FLOPs of one :func:`~mmmobilemamba.ops.wavelet_conv` call, from the
    shapes of ``x`` (B, C, H, W), the Haar bank (4C, 1, 2, 2) and the subband
    kernel (4C, 1, k, k), as fvcore counts the official convolutions.

    Returns:
        Counter: ``wavelet_transform`` (analysis and synthesis, each a
        stride-2 grouped conv on the zero-padded map) and ``conv`` (the
        subband depthwise conv).
    """
    batch, _, height, width = x_shape
    positions = batch * math.ceil(height / 2) * math.ceil(width / 2)
    return Counter(
        wavelet_transform=2 * positions * math.prod(filter_shape),
        conv=positions * math.prod(weight_shape))


def _forward_as_node(impl, grad_enabled: bool, args: Tuple[Tensor,
                                                           ...]) -> Tensor:
    """Run ``impl`` inside a counting node's forward. While tracing, the
    tracer is paused so that the node's subgraph holds the output as a
    constant instead of every inner op (the scan's loop unrolls); an output
    that will require grad cannot be a constant and is traced instead."""
    state = torch._C._get_tracing_state()
    if state is None or grad_enabled and any(a.requires_grad for a in args):
        return impl(*args)
    torch._C._set_tracing_state(None)
    try:
        return impl(*args)
    finally:
        torch._C._set_tracing_state(state)


class _CountingNode(torch.autograd.Function):
    """Base of the counting nodes: the JIT tracer records a call as one
    ``prim::PythonOp`` node, which the analyzer sees instead of the ops
    inside. Forward only."""

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            f'the {COUNTING_BACKEND!r} backend only serves FLOP counting and '
            'has no backward; do not train inside counted_ops()')

    @classmethod
    def run(cls, *args: Tensor) -> Tensor:
        return cls.apply(torch.is_grad_enabled(), *args)


class MobileMambaBidiSelectiveScan(_CountingNode):
    """:func:`~mmmobilemamba.ops.bidi_selective_scan` as one traced node."""

    @staticmethod
    def forward(ctx, grad_enabled: bool, *args: Tensor) -> Tensor:
        return _forward_as_node(bidi_selective_scan_torch, grad_enabled, args)


class MobileMambaWaveletConv(_CountingNode):
    """:func:`~mmmobilemamba.ops.wavelet_conv` as one traced node."""

    @staticmethod
    def forward(ctx, grad_enabled: bool, *args: Tensor) -> Tensor:
        return _forward_as_node(wavelet_conv_torch, grad_enabled, args)


def _bidi_selective_scan_flop_jit(inputs, outputs) -> Counter:
    x, x_proj, dt_proj, _, a_logs = (get_shape(v) for v in inputs[:5])
    return bidi_selective_scan_flops(x, x_proj, dt_proj, a_logs)


def _wavelet_conv_flop_jit(inputs, outputs) -> Counter:
    x, wt_filter, _, weight = (get_shape(v) for v in inputs[:4])
    return wavelet_conv_flops(x, wt_filter, weight)


_COUNTED = {
    'bidi_selective_scan':
    (MobileMambaBidiSelectiveScan, _bidi_selective_scan_flop_jit),
    'wavelet_conv': (MobileMambaWaveletConv, _wavelet_conv_flop_jit),
}
# Lowest priority: never chosen automatically, only by counted_ops().
for _op, (_node, _) in _COUNTED.items():
    register_op(_op, COUNTING_BACKEND, priority=-100)(_node.run)

#: FlopAnalyzer handles of the nodes traced inside :func:`counted_ops`.
FLOP_HANDLES = {
    f'prim::PythonOp.{node.__name__}': handle
    for node, handle in _COUNTED.values()
}


@contextmanager
def counted_ops():
    """Make every ``bidi_selective_scan`` and ``wavelet_conv`` call one
    traced node that :data:`FLOP_HANDLES` count (forward only)."""
    with ExitStack() as stack:
        for op in _COUNTED:
            stack.enter_context(use_backend(COUNTING_BACKEND, op))
        yield


class MobileMambaFlopAnalyzer(FlopAnalyzer):
    """:class:`mmengine.analysis.FlopAnalyzer` that also counts MobileMamba's
    selective scan and wavelet ops.

    Example:
        >>> analyzer = MobileMambaFlopAnalyzer(model, (inputs, ))
        >>> analyzer.total(), analyzer.by_operator()
    """

    def __init__(self, model: torch.nn.Module,
                 inputs: Union[Tensor, Tuple[Tensor, ...]]) -> None:
        super().__init__(model, inputs)
        self.set_op_handle(**FLOP_HANDLES)

    def _analyze(self):
        with counted_ops(), torch.no_grad():
            return super()._analyze()


def crop_shape(cfg: Config) -> Optional[Tuple[int, int]]:
    """(H, W) of the last crop in the classifier's test pipeline."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    pipeline = dataset.get('pipeline', cfg.get('test_pipeline', []))
    shape = None
    for transform in pipeline:
        size = transform.get('crop_size')
        if size is not None:
            shape = (size, size) if isinstance(size, int) else tuple(
                size[::-1])  # mmcv crop sizes are (w, h)
    return shape


#: Aspect (W, H) of the image the test pipeline is run on to find the input
#: size. Only a keep-ratio ``Resize`` depends on it: 16:10 makes COCO's
#: (1333, 800) give 800 x 1280, the "1280 x 800" of detection FLOP tables
#: (the default of mmdet 2.x's get_flops and of this repository's README).
TEST_IMAGE_ASPECT = (16, 10)


def pipeline_test_shape(cfg: Config) -> Optional[Tuple[int, int]]:
    """(H, W) of what the config's test pipeline makes of a 16:10 landscape
    image (:data:`TEST_IMAGE_ASPECT`), or None if that depends on the image's
    size (no ``Resize`` to a scale, nor a crop or pad to a fixed size).

    The pipeline's own transforms are run (file loading and packing left
    out) on blank images of two sizes; the default scope must be set.
    """
    from mmengine.dataset import Compose
    try:
        from mmdet.utils import get_test_pipeline_cfg
        pipeline = get_test_pipeline_cfg(cfg)  # through dataset wrappers
    except ImportError:  # mmdet is not installed
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        pipeline = dataset.get('pipeline')
    except (AttributeError, KeyError, RuntimeError):  # no test dataset
        pipeline = None
    pipeline = pipeline or cfg.get('test_pipeline', [])
    geometric = Compose([
        t for t in pipeline
        if not str(t['type']).split('.')[-1].startswith(('Load', 'Pack'))
    ])
    shapes = set()
    for factor in (100, 50):
        width, height = (factor * side for side in TEST_IMAGE_ASPECT)
        results = geometric(
            dict(
                img=np.zeros((height, width, 3), np.uint8),
                img_shape=(height, width),
                ori_shape=(height, width)))
        shapes.add(tuple(results['img'].shape[:2]))
    return shapes.pop() if len(shapes) == 1 else None


def segmentor_crop_shape(cfg: Config) -> Optional[Tuple[int, int]]:
    """(H, W) a segmentor config is counted at: the window of slide
    inference, else its crop size (the data preprocessor's ``size`` or
    ``crop_size``), the resolution mmseg's model zoo names configs by."""
    model = cfg.get('model', {})
    test_cfg = model.get('test_cfg') or {}
    if test_cfg.get('mode') == 'slide':
        size = test_cfg.get('crop_size')
    else:
        size = (model.get('data_preprocessor') or {}).get('size')
        size = size or cfg.get('crop_size')
    if size is None:
        return None
    return (size, size) if isinstance(size, int) else tuple(size)


def default_input_shape(cfg: Config) -> Tuple[Tuple[int, int], str]:
    """(H, W) that :func:`analyze_config` counts a config at without a given
    shape, and where it comes from:

    * classifiers and detectors: the test pipeline's output for a 16:10
      image (:func:`pipeline_test_shape`): the test crop of a classifier;
      a detector's ``Resize`` scale (w, h) as H x W, or with ``keep_ratio``
      the largest 16:10 image inside it (800 x 1280 for (1333, 800)), then
      its ``Pad``. The data preprocessor then pads it to its
      ``pad_size_divisor``, as mmdet's own get_flops pads its images;
    * segmentors: :func:`segmentor_crop_shape` (512 x 512 for the ADE20K
      configs, whose test ``Resize`` keeps the ratio), else the test
      pipeline's output.

    The default scope must be set. Raises ValueError when the config fixes
    no size.
    """
    shape, source = None, 'test pipeline'
    if cfg.get('default_scope') == 'mmseg':
        shape, source = segmentor_crop_shape(cfg), 'crop size'
    if shape is None:
        shape, source = pipeline_test_shape(cfg), 'test pipeline'
    if shape is None:
        raise ValueError(
            'the config fixes no input size (no test pipeline with a Resize '
            'to a scale or a fixed crop, no crop_size); pass one with '
            '--shape H W (shape=(H, W))')
    return shape, source


def _classifier(cfg: Config, shape: Tuple[int, int]):
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    # The whole classifier, head included, as the paper counts it.
    return model, torch.randn(1, 3, *shape), {}


def _detector(cfg: Config, shape: Tuple[int, int]):
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    model = MODELS.build(cfg.model)
    sample = DetDataSample(
        metainfo=dict(img_shape=shape, ori_shape=shape, scale_factor=(1., 1.)))
    # A fixed image: a detector's count depends on how many proposals pass.
    image = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0))
    return model, image * 255, dict(data_samples=[sample])


def _segmentor(cfg: Config, shape: Tuple[int, int]):
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    model = MODELS.build(cfg.model)
    if hasattr(model, 'auxiliary_head'):
        model.auxiliary_head = None  # training only, as mmseg's get_flops
    sample = SegDataSample(
        metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
    return model, torch.rand(3, *shape) * 255, dict(data_samples=[sample])


_BUILDERS = dict(mmpretrain=_classifier, mmdet=_detector, mmseg=_segmentor)


def count_parameters(model: torch.nn.Module) -> int:
    """Parameters as the paper counts them: every parameter plus the frozen
    Haar filter banks, which the official code keeps as (non-trainable)
    parameters and this package as buffers."""
    haar = sum(buffer.numel() for name, buffer in model.named_buffers()
               if name.endswith(('.wt_filter', '.iwt_filter')))
    return parameter_count(model)[''] + haar


def analyze_config(config: Union[str, Config],
                   shape: Optional[Sequence[int]] = None,
                   cfg_options: Optional[dict] = None) -> dict:
    """FLOPs and parameters of the model an OpenMMLab config builds.

    The toolbox is chosen by the config's ``default_scope``: an mmpretrain
    classifier is counted whole (``mode='tensor'``, head included); an mmdet
    detector or mmseg segmentor is counted like their ``get_flops`` tools
    (``mode='tensor'``: backbone, neck and head without post-processing;
    no auxiliary head), on the data preprocessor's padded input. SyncBN is
    reverted to BN and BN is counted in eval mode, as the config builds it
    (the BN-fused ``deploy`` configs have none).

    Args:
        config (str | Config): Config file or object.
        shape (Sequence[int], optional): Input (H, W) or (S, ) for S x S.
            Defaults to the config's test size (:func:`default_input_shape`).
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``flops`` (MACs), ``params`` (:func:`count_parameters`),
        ``input_shape`` (B, C, H, W) as the model sees it (padded),
        ``image_shape`` (H, W) before the data preprocessor, ``shape_source``
        (``'given'``, ``'test pipeline'`` or ``'crop size'``), ``scope`` and
        the evaluated ``analyzer``.
    """
    if isinstance(config, str):
        cfg = Config.fromfile(config)
    else:
        cfg = deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in _BUILDERS:
        raise ValueError(
            f'cannot tell the toolbox of the config: its default_scope is '
            f'{scope!r}; expected one of {sorted(_BUILDERS)}')
    init_default_scope(scope)
    if shape is None:
        shape, source = default_input_shape(cfg)
    else:
        shape = tuple(shape) * 2 if len(shape) == 1 else tuple(shape)
        if len(shape) != 2:
            raise ValueError(f'shape must be (H, W) or (S, ), got {shape}')
        source = 'given'
    model, inputs, kwargs = _BUILDERS[scope](cfg, shape)
    model = revert_sync_batchnorm(model).eval()
    if kwargs:
        data = model.data_preprocessor(dict(inputs=[inputs], **kwargs), False)
        inputs = data['inputs']
        kwargs = dict(data_samples=data['data_samples'])
    model.forward = partial(model.forward, mode='tensor', **kwargs)
    analyzer = MobileMambaFlopAnalyzer(model, (inputs, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return dict(
        flops=analyzer.total(),
        params=count_parameters(model),
        input_shape=tuple(inputs.shape),
        image_shape=shape,
        shape_source=source,
        scope=scope,
        analyzer=analyzer)

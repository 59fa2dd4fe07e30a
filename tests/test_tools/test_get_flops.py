"""FLOP counting: mmmobilemamba.analysis and tools/analysis_tools/get_flops.py.

Expected values are derived independently: parameter counts from the paper
and the model's trainable parameters, op counts from the closed-form
formulas applied to the shapes each module sees in an eager forward.
"""
import importlib.util
import math
import os.path as osp
import re
import sys
from functools import partial

import pytest
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmmobilemamba.analysis import (MobileMambaFlopAnalyzer, analyze_config,
                                    count_parameters, counted_ops,
                                    default_input_shape, pipeline_test_shape,
                                    selective_scan_flops)
from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.layers.ss2d import SS2D
from mmmobilemamba.models.layers.wte_mamba import WTEMamba
from mmmobilemamba.ops import dispatch, set_backend, use_backend
from mmmobilemamba.ops.wavelet_conv import wavelet_conv_torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mobilemamba',
                  'mobilemamba-{}_8xb128_in1k.py')
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')
CPU = torch.device('cpu')
# Table 1 of the paper (M).
PAPER_PARAMS = dict(t2=8.8, t4=14.2, s6=15.0, b1=17.1, b2=17.1, b4=17.1)
BACKBONE = dict(
    type='mmmobilemamba.MobileMamba',
    arch='b1',
    out_indices=(1, 2, 3),
    init_cfg=None)
DETECTOR = dict(
    _base_='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    model=dict(
        backbone=dict(_delete_=True, **BACKBONE),
        neck=dict(in_channels=[200, 376, 448], start_level=0),
        bbox_head=dict(anchor_generator=dict(strides=[16, 32, 64, 128, 256]))))
SEGMENTOR = dict(
    _base_='mmseg::_base_/models/fpn_r50.py',
    default_scope='mmseg',
    model=dict(
        pretrained=None,
        backbone=dict(_delete_=True, **BACKBONE),
        neck=dict(in_channels=[200, 376, 448], num_outs=3),
        decode_head=dict(
            in_channels=[256, 256, 256],
            in_index=[0, 1, 2],
            feature_strides=[16, 32, 64],
            num_classes=150)))


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tracing needs no intra-op parallelism; one thread keeps it fast when
    other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('get_flops_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_classifier(arch):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    return MODELS.build(Config.fromfile(CONFIG.format(arch)).model).eval()


def write_config(directory, cfg):
    path = osp.join(str(directory), 'model.py')
    lines = ["custom_imports = dict(imports=['mmmobilemamba'])"]
    lines += [f'{key} = {value!r}' for key, value in cfg.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def printed(out, label):
    """The exact integer the tool prints for ``label`` (FLOPs, Params)."""
    return int(re.search(rf'^{label}: \S+ \((\d+)', out, re.M).group(1))


def analytic_counts(model, inputs):
    """Closed-form scan / Haar counts from the shapes of an eager forward:
    VMamba's ``9*B*L*D*N + B*D*L`` over the D = K * Di scanned channels, and
    two 2x2 stride-2 grouped convs with 4C outputs per wavelet branch."""
    counts = dict(scan=0, haar=0, dt_zero_blocks=0)

    def on_ss2d(module, args):
        batch, _, height, width = args[0].shape
        scanned = module.directions * module.inner_channels
        counts['scan'] += batch * height * width * scanned * (
            9 * module.d_state + 1)
        # The PyTorch path projects both directions' dt in one matmul with
        # a block-diagonal (2R, 2Di) weight, whose zero blocks a plain
        # matmul count includes.
        counts['dt_zero_blocks'] += batch * height * width * scanned * (
            module.dt_rank)

    def on_wte(module, args):
        batch, channels, height, width = args[0].shape
        positions = batch * math.ceil(height / 2) * math.ceil(width / 2)
        counts['haar'] += 2 * positions * 4 * channels * 2 * 2

    handles = []
    for module in model.modules():
        if isinstance(module, (SS2D, WTEMamba)):
            hook = on_ss2d if isinstance(module, SS2D) else on_wte
            handles.append(module.register_forward_pre_hook(hook))
    with torch.no_grad():
        model(inputs)
    for handle in handles:
        handle.remove()
    return counts


def test_selective_scan_formula():
    """VMamba's flops_selective_scan_fn(B=1, L=256, D=768, N=16)."""
    assert selective_scan_flops(1, 256, 768, 16) == 28_508_160
    with_z = selective_scan_flops(2, 256, 768, 16, with_z=True)
    assert with_z == 2 * 28_508_160 + 2 * 256 * 768


@pytest.mark.parametrize('arch', sorted(PAPER_PARAMS))
def test_params_match_paper(arch):
    """The counted parameters are the trainable ones plus the frozen Haar
    banks (buffers here, parameters in the official code), the paper's
    count to its 0.1M precision."""
    model = build_classifier(arch)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    haar = sum(b.numel() for n, b in model.named_buffers() if 'wt_filter' in n)
    assert count_parameters(model) == trainable + haar
    assert round(count_parameters(model) / 1e6, 1) == PAPER_PARAMS[arch]


def test_custom_ops_counted(tool, capsys):
    """The scan and the Haar transform are counted, exactly as the formulas
    give, on top of everything mmengine's plain analyzer counts; the tool
    reports the same numbers."""
    model = build_classifier('t2')
    inputs = torch.randn(1, 3, 192, 192)
    expected = analytic_counts(model, inputs)
    model.forward = partial(model.forward, mode='tensor')
    ours = MobileMambaFlopAnalyzer(model, (inputs, ))
    plain = FlopAnalyzer(model, (inputs, ))
    for analyzer in (ours, plain):
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
    ops = ours.by_operator()
    assert ops['selective_scan'] == expected['scan'] > 0
    assert ops['wavelet_transform'] == expected['haar'] > 0
    assert 'selective_scan' not in plain.by_operator()
    # The plain analyzer counts the PyTorch path's projection matmuls, and
    # the Haar matmuls as ours counts the Haar convs (batch 1).
    assert ours.total() - plain.total() == \
        expected['scan'] - expected['dt_zero_blocks']
    # The scan's loop is one node, not hundreds of unhandled ops; what is
    # left is WTE-Mamba's scaled sum, one per block.
    blocks = sum(isinstance(m, WTEMamba) for m in model.modules())
    assert ours.unsupported_ops()['aten::addcmul'] == blocks
    assert plain.unsupported_ops()['aten::addcmul'] > 10 * blocks

    tool.main([CONFIG.format('t2')])
    out = capsys.readouterr().out
    assert 'Input shape: (1, 3, 192, 192)' in out  # the native test crop
    assert printed(out, 'FLOPs') == ours.total()
    assert printed(out, 'Params') == count_parameters(model)


def test_counts_scale_with_batch():
    """Every handle counts per sample (mmengine's matmul handle does not
    for the broadcast Haar matmuls, which the counting node replaces)."""
    model = MobileMamba('t2').eval()
    totals = [
        MobileMambaFlopAnalyzer(model, torch.randn(batch, 3, 64, 96)).total()
        for batch in (1, 2)
    ]
    assert totals[1] == 2 * totals[0]


def test_counted_ops_keep_outputs_and_dispatch(monkeypatch):
    """The counting nodes compute the same outputs; afterwards the ops are
    dispatched as before (a forced backend stays forced, automatic
    selection never picks the counting backend)."""
    monkeypatch.delenv('MMMOBILEMAMBA_OPS_BACKEND', raising=False)
    automatic_scan = dispatch('bidi_selective_scan', CPU)
    model = MobileMamba('t2').eval()
    inputs = torch.randn(1, 3, 64, 96)
    # The counting nodes run the PyTorch implementations (the other ops
    # keep their automatic choice in both runs).
    with torch.no_grad(), use_backend('torch', 'bidi_selective_scan'), \
            use_backend('torch', 'wavelet_conv'):
        expected = model(inputs)
    set_backend('torch', 'wavelet_conv')
    try:
        with counted_ops(), torch.no_grad():
            assert dispatch('wavelet_conv', CPU) is not wavelet_conv_torch
            outputs = model(inputs)
        assert dispatch('wavelet_conv', CPU) is wavelet_conv_torch
    finally:
        set_backend(None, 'wavelet_conv')
    assert dispatch('bidi_selective_scan', CPU) is automatic_scan
    torch.testing.assert_close(outputs, expected, rtol=0, atol=0)
    with counted_ops():
        with pytest.raises(RuntimeError, match='no backward'):
            model.train()(inputs.requires_grad_())[0].sum().backward()


def test_cli_cfg_options(tool, capsys):
    tool.main([
        CONFIG.format('t2'), '--shape', '128', '--cfg-options',
        'model.backbone.arch=t4', 'model.head.in_channels=448'
    ])
    out = capsys.readouterr().out
    assert 'Input shape: (1, 3, 128, 128)' in out
    assert printed(out, 'Params') == 14_176_090  # official T4 count


@pytest.mark.parametrize('cfg, scope', [(DETECTOR, 'mmdet'),
                                        (SEGMENTOR, 'mmseg')])
def test_cli_dense_prediction(tool, capsys, tmp_path, cfg, scope):
    """A detector and a segmentor on a MobileMamba-B1 backbone: the whole
    model is counted, its backbone's scan included."""
    tool.main([write_config(tmp_path, cfg), '--shape', '256', '320'])
    out = capsys.readouterr().out
    assert f'Model: {scope} ' in out
    assert 'Input shape: (1, 3, 256, 320)' in out
    assert re.search(r'^  selective_scan +\d', out, re.M)
    backbone = MobileMamba('b1', out_indices=(1, 2, 3)).eval()
    alone = MobileMambaFlopAnalyzer(backbone, (torch.randn(1, 3, 256, 320), ))
    alone.uncalled_modules_warnings(False)
    assert printed(out, 'FLOPs') > alone.total()
    assert printed(out, 'Params') > parameter_count(backbone)['']


def test_unknown_toolbox_raises():
    cfg = Config(dict(model=dict(type='mmmobilemamba.MobileMamba')))
    with pytest.raises(ValueError, match='default_scope'):
        analyze_config(cfg)


@pytest.mark.parametrize('config, shape, source', [
    ('mobilemamba/mobilemamba-s6_8xb128_in1k.py', (224, 224), 'test pipeline'),
    ('retinanet/retinanet_mobilemamba-b1_fpn_4xb4-1x_coco.py',
     (800, 1280), 'test pipeline'),
    ('mask_rcnn/mask-rcnn_mobilemamba-b1_fpn_4xb4-1x_coco.py',
     (800, 1280), 'test pipeline'),
    ('ssdlite/ssdlite_mobilemamba-b1_8xb24-600e_coco-320.py',
     (320, 320), 'test pipeline'),
    ('ssdlite/ssdlite_mobilemamba-b1_8xb24-600e_coco-512.py',
     (512, 512), 'test pipeline'),
    ('sem_fpn/fpn_mobilemamba-b4_4xb8-160k_ade20k-512x512.py',
     (512, 512), 'crop size'),
    ('pspnet/pspnet_mobilemamba-b4_4xb8-80k_ade20k-512x512.py',
     (512, 512), 'crop size'),
])
def test_default_shape_is_the_configs_test_size(config, shape, source):
    """The classifier's test crop; COCO's keep-ratio (1333, 800) as the
    16:10 image 800 x 1280 of the README's tables; SSDLite's fixed input;
    the ADE20K crop (its test Resize keeps the ratio)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    init_default_scope(cfg.default_scope)
    assert default_input_shape(cfg) == (shape, source)


@pytest.mark.parametrize('pipeline, shape', [
    ([dict(type='Resize', scale=(1333, 800), keep_ratio=True)], (800, 1280)),
    ([dict(type='Resize', scale=(1000, 800), keep_ratio=True)], (625, 1000)),
    ([dict(type='Resize', scale=(320, 240), keep_ratio=False)], (240, 320)),
    ([
        dict(type='Resize', scale=(640, 640), keep_ratio=True),
        dict(type='Pad', size=(640, 640))
    ], (640, 640)),
    ([
        dict(type='Resize', scale=(1000, 600), keep_ratio=True),
        dict(type='Pad', size_divisor=64)
    ], (640, 960)),
    ([dict(type='LoadImageFromFile'),
      dict(type='PackDetInputs')], None),
])
def test_pipeline_test_shape(pipeline, shape):
    """What the pipeline's own transforms make of a 16:10 image; None when
    the output follows the image's size."""
    init_default_scope('mmdet')
    cfg = Config(dict(test_pipeline=pipeline))
    assert pipeline_test_shape(cfg) == shape


def test_slide_inference_counts_the_window():
    init_default_scope('mmseg')
    cfg = Config(
        dict(
            default_scope='mmseg',
            crop_size=(512, 512),
            model=dict(
                test_cfg=dict(
                    mode='slide', crop_size=(256, 384), stride=(128, 128)))))
    assert default_input_shape(cfg) == ((256, 384), 'crop size')


def test_config_without_a_test_size_asks_for_shape():
    """The toy classifier tests its 64 x 64 images as they are."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                 'mobilemamba-t2_1xb32_toy-cls.py'))
    with pytest.raises(ValueError, match='--shape'):
        analyze_config(cfg)


def test_cli_pads_to_the_preprocessor_divisor(tool, capsys):
    """The toy RetinaNet's keep-ratio (256, 256) gives 160 x 256, which its
    data preprocessor pads to a multiple of 64; --shape overrides it."""
    config = osp.join(REPO, 'configs', 'retinanet', 'toy',
                      'retinanet_mobilemamba-t2_fpn_toy-det.py')
    tool.main([config])
    out = capsys.readouterr().out
    assert ("Input shape: (1, 3, 192, 256) (the config's test pipeline; "
            '--shape overrides)') in out
    tool.main([config, '--shape', '128'])
    assert 'Input shape: (1, 3, 128, 128) (--shape)' in capsys.readouterr().out


def test_classifier_shape_without_mmdet(monkeypatch):
    """mmdet (whose helper unwraps dataset wrappers) is not needed to find
    a classifier's test crop."""
    cfg = Config.fromfile(CONFIG.format('b2'))
    init_default_scope('mmpretrain')
    monkeypatch.setitem(sys.modules, 'mmdet.utils', None)
    assert pipeline_test_shape(cfg) == (384, 384)

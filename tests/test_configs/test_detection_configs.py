"""The mmdet configs build, round-trip, train a step and predict on CPU."""
import copy
import glob
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(path, REPO) for folder in ('mask_rcnn', 'retinanet', 'ssdlite')
    for path in glob.glob(osp.join(REPO, 'configs', folder, '*.py')))
# Parameters (frozen Haar banks included) as the paper reports them.
PAPER_PARAMS = dict(mask=38.0, retinanet=27.1, ssdlite=18.0)
NECK_STRIDES = dict(mask=[4, 8, 16, 32, 64], retinanet=[8, 16, 32, 64, 128])


@pytest.fixture(autouse=True)
def det_scope():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')


def build(path):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.model.backbone.init_cfg = None  # no released weights here
    return cfg, revert_sync_batchnorm(MODELS.build(cfg.model))


def count_params(model):
    return sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for n, b in model.named_buffers() if 'wt_filter' in n)


def toy_batch(cfg, split, root, num=2, size=None):
    """``num`` toy images through the config's own ``split`` pipeline,
    collated (``size``: the side of its Resize, to keep the CPU test fast)."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    from mmmobilemamba.datasets import DET_CLASSES
    dataset = cfg[f'{split}_dataloader'].dataset
    dataset = copy.deepcopy(dataset.get('dataset', dataset))  # RepeatDataset
    folder = 'train' if split == 'train' else 'val'
    dataset.update(
        data_root=root,
        ann_file=f'annotations/instances_{folder}.json',
        data_prefix=dict(img=f'{folder}/'),
        metainfo=dict(classes=DET_CLASSES))
    if size is not None:
        for transform in dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (size, size)
    dataset = DATASETS.build(dataset)
    return pseudo_collate([dataset[i] for i in range(num)])


def test_every_official_detector_has_a_config():
    names = [osp.basename(p).split('_')[0] for p in CONFIGS]
    assert names == ['mask-rcnn', 'retinanet', 'ssdlite', 'ssdlite']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_round_trips_trains_and_predicts(path, tmp_path,
                                                       det_root):
    cfg, model = build(path)
    kind = osp.basename(path).split('_')[0].split('-')[0]
    assert cfg.model.backbone.arch == 'b1'
    assert cfg.model.backbone.norm_eval
    train_set = cfg.train_dataloader.dataset
    Compose(train_set.get('dataset', train_set).pipeline)  # RepeatDataset
    Compose(cfg.test_dataloader.dataset.pipeline)
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    assert Config.fromfile(str(dumped)).to_dict() == cfg.to_dict()

    if kind == 'ssdlite':  # stage 3 unused under DDP
        assert cfg.model.backbone.out_indices == (1, 2)
        assert cfg.find_unused_parameters
        assert type(model.bbox_head).__module__.startswith('mmmobilemamba')
    if path.endswith('512.py'):
        assert cfg.test_pipeline[1].scale == (512, 512)
        # The official 512 anchors are the 320 ones: tests/test_recipes.
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.weight_decay == 0.05
    assert optimizer.lr == (2.4e-3 if kind == 'ssdlite' else 2e-4)
    assert cfg.optim_wrapper.clip_grad.max_norm == 0.1
    if kind in NECK_STRIDES:
        feats = model.extract_feat(torch.randn(1, 3, 128, 128))
        assert [128 // f.shape[-1] for f in feats] == NECK_STRIDES[kind]

    # A training step and a prediction on toy COCO images through the
    # config's own pipelines (SSDLite's at its native size; the 1333x800
    # Resize of the others at 320 for speed).
    size = None if kind == 'ssdlite' else 320
    model.train()
    # two images: SSD's last BN layers see 1x1 maps
    data = model.data_preprocessor(
        toy_batch(cfg, 'train', det_root, size=size), training=True)
    assert all(len(s.gt_instances) > 0 for s in data['data_samples'])
    if kind == 'mask':
        assert all('masks' in s.gt_instances for s in data['data_samples'])
    losses = model(**data, mode='loss')
    total = sum(
        sum(v) if isinstance(v, list) else v  # SSD/RPN give lists
        for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed[0].conv.weight.grad is not None

    model.eval()
    with torch.no_grad():
        result, = model.test_step(
            toy_batch(cfg, 'test', det_root, num=1, size=size))
    assert result.pred_instances.bboxes.shape[1] == 4
    assert result.ori_shape == result.metainfo['ori_shape']
    if kind == 'mask':
        assert 'masks' in result.pred_instances


@pytest.mark.parametrize('kind', sorted(PAPER_PARAMS))
def test_parameters_match_the_paper(kind):
    path = next(p for p in CONFIGS if osp.basename(p).startswith(kind))
    _, model = build(path)
    assert round(count_params(model) / 1e6, 1) == PAPER_PARAMS[kind]


def test_neck_names_the_channels_a_mismatched_backbone_needs():
    """A B1 neck on a T2 backbone fails naming T2's channels."""
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[0]))
    cfg.model.backbone.update(arch='t2', init_cfg=None)
    model = MODELS.build(cfg.model).eval()
    t2 = model.backbone.arch_settings['embed_dims']
    assert list(t2) != [200, 376, 448]
    with pytest.raises(ValueError, match=re.escape(f'in_channels={list(t2)}')):
        model.extract_feat(torch.randn(1, 3, 128, 128))


@pytest.mark.parametrize('extra', [False, 'on_input', 'on_output'])
def test_neck_without_trans_convs_is_mmdet_fpn(extra):
    from mmdet.models.necks import FPN

    from mmmobilemamba.models.necks import TransConvFPN
    kwargs = dict(
        num_outs=5, add_extra_convs=extra, relu_before_extra_convs=True)
    ours = TransConvFPN([8, 16, 32], 8, **kwargs).eval()
    theirs = FPN([8, 16, 32], 8, **kwargs).eval()
    theirs.load_state_dict(ours.state_dict())
    feats = [
        torch.randn(1, 8 * 2**i, 16 // 2**i, 16 // 2**i) for i in range(3)
    ]
    for a, b in zip(ours(feats), theirs(feats)):
        torch.testing.assert_close(a, b)


def test_neck_refines_the_finest_level_with_the_first_extra_conv():
    """The official pairing: ``extra_fpn_convs[0]`` refines the output of
    the last transposed conv (stride 4), ``extra_fpn_convs[1]`` that of the
    first (stride 8), so official Mask R-CNN checkpoints load as trained."""
    from mmmobilemamba.models.necks import TransConvFPN
    neck = TransConvFPN([8, 16, 32], 8, num_outs=5,
                        num_extra_trans_convs=2).eval()
    feats = [
        torch.randn(1, 8 * 2**i, 16 // 2**i, 16 // 2**i) for i in range(3)
    ]
    outs = neck(feats)
    with torch.no_grad():
        lateral = neck.lateral_convs[2](feats[2])
        for level in (1, 0):
            lateral = neck.lateral_convs[level](feats[level]) + F.interpolate(
                lateral, size=feats[level].shape[2:])
        stride8 = neck.extra_trans_convs[0](lateral)
        stride4 = neck.extra_trans_convs[1](stride8)
        torch.testing.assert_close(outs[0], neck.extra_fpn_convs[0](stride4))
        torch.testing.assert_close(outs[1], neck.extra_fpn_convs[1](stride8))
    assert [o.shape[-1] for o in outs] == [64, 32, 16, 8, 4]

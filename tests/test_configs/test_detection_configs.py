"""The mmdet configs build, round-trip, train a step and predict on CPU."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

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


def samples(size, with_mask, num=1):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    sample = DetDataSample()
    boxes = torch.tensor([[32., 48., 200., 180.], [150., 100., 300., 290.]])
    instances = InstanceData(bboxes=boxes, labels=torch.tensor([3, 17]))
    if with_mask:
        masks = torch.zeros(2, size, size, dtype=torch.uint8)
        for mask, (x1, y1, x2, y2) in zip(masks, boxes.long().tolist()):
            mask[y1:y2, x1:x2] = 1
        instances.masks = BitmapMasks(masks.numpy(), size, size)
    sample.gt_instances = instances
    sample.set_metainfo(
        dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            pad_shape=(size, size),
            batch_input_shape=(size, size),
            scale_factor=(1., 1.)))
    return [sample.clone() for _ in range(num)]


def test_every_official_detector_has_a_config():
    names = [osp.basename(p).split('_')[0] for p in CONFIGS]
    assert names == ['mask-rcnn', 'retinanet', 'ssdlite', 'ssdlite']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_round_trips_trains_and_predicts(path, tmp_path):
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
        assert cfg.model.bbox_head.anchor_generator.strides[-1] == 512
    if kind in NECK_STRIDES:
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        feats = model.extract_feat(torch.randn(1, 3, 128, 128))
        assert [128 // f.shape[-1] for f in feats] == NECK_STRIDES[kind]

    model.train()
    # two images: SSD's last BN layers see 1x1 maps
    losses = model(
        torch.randn(2, 3, 320, 320),
        samples(320, kind == 'mask', 2),
        mode='loss')
    total = sum(
        sum(v) if isinstance(v, list) else v  # SSD/RPN give lists
        for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed[0].conv.weight.grad is not None

    model.eval()
    with torch.no_grad():
        result, = model(
            torch.randn(1, 3, 320, 320), samples(320, False), mode='predict')
    assert result.pred_instances.bboxes.shape[1] == 4
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

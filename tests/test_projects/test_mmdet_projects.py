"""The mmdet project configs change only the backbone and what its strides
and channels require, their feature strides match the heads' priors, and
each trains one iteration on the toy COCO-format data."""
import pytest
import torch
from mmengine.config import Config
from project_runner import (changed, load, logged_losses, shrink_pipeline,
                            train_one_iteration, unexpected_changes)

from mmmobilemamba.datasets import DET_CLASSES

pytest.importorskip('mmdet')

FASTER_RCNN = ('mobilemamba_mmdet/configs/'
               'faster-rcnn_mobilemamba-b1_fpn_1x_coco.py')
RTMDET = 'mobilemamba_mmdet/configs/rtmdet_s_mobilemamba-b1_8xb32-300e_coco.py'
FCOS = 'mobilemamba_mmdet/configs/fcos_mobilemamba-b1_fpn_gn-head_1x_coco.py'
CONFIGS = (FASTER_RCNN, RTMDET, FCOS)
UPSTREAM = {
    FASTER_RCNN: 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    RTMDET: 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    FCOS: 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
}
RGB_NORMALISATION = {
    'model.data_preprocessor.mean', 'model.data_preprocessor.std',
    'model.data_preprocessor.bgr_to_rgb'
}
# What each config may change in its upstream config.
CHANGES = {
    FASTER_RCNN: {
        'custom_imports', 'model.backbone', 'model.neck.type',
        'model.neck.in_channels', 'model.neck.num_extra_trans_convs'
    },
    RTMDET: {
        'custom_imports', 'model.backbone', 'model.neck.in_channels',
        'model.bbox_head.anchor_generator.strides',
        'model.data_preprocessor.pad_size_divisor', *RGB_NORMALISATION
    },
    FCOS: {
        'custom_imports', 'model.backbone', 'model.neck.type',
        'model.neck.in_channels', 'model.neck.start_level',
        'model.neck.num_extra_trans_convs', *RGB_NORMALISATION
    },
}
# Image sizes of the pipelines divided by: Faster R-CNN's 1333x800 becomes
# 267x160, RTMDet's 640x640 (and its 1280 resize) 128x128 (and 256).
# FCOS's 1333x800 as Faster R-CNN's.
SHRINK = {FASTER_RCNN: 5, RTMDET: 5, FCOS: 5}
HEADS = {
    FASTER_RCNN: ('rpn_head.', 'roi_head.'),
    RTMDET: ('bbox_head.', ),
    FCOS: ('bbox_head.', )
}
LOSSES = {
    FASTER_RCNN: {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'},
    RTMDET: {'loss_cls', 'loss_bbox'},
    FCOS: {'loss_cls', 'loss_bbox', 'loss_centerness'},
}
# The neck's strides the heads' priors must have.
STRIDES = {
    FASTER_RCNN: [4, 8, 16, 32, 64],
    RTMDET: [16, 32, 64],
    FCOS: [8, 16, 32, 64, 128]
}


@pytest.fixture
def det_scope():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def use_toy_data(cfg, root, factor):
    """Train ``cfg`` on the toy data with its pipelines shrunk by
    ``factor``."""
    dataset = cfg.train_dataloader.dataset
    dataset.update(
        data_root=root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=DET_CLASSES))
    shrink_pipeline(dataset.pipeline, factor)
    for hook in cfg.get('custom_hooks', []):
        if 'switch_pipeline' in hook:
            shrink_pipeline(hook.switch_pipeline, factor)
    head = cfg.model.roi_head if 'roi_head' in cfg.model else cfg.model
    head.bbox_head.num_classes = len(DET_CLASSES)
    return cfg


@pytest.mark.parametrize('path', CONFIGS)
def test_config_swaps_only_the_backbone(path):
    cfg = load(path, pretrained=True)
    upstream = Config.fromstring(f'_base_ = {UPSTREAM[path]!r}', '.py')
    assert unexpected_changes(upstream, cfg, CHANGES[path]) == set()
    backbone = cfg.model.backbone
    assert backbone.type == 'mmmobilemamba.MobileMamba'
    assert backbone.arch == 'b1'
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilemamba-b1_in1k.pth',
        prefix='backbone.')


@pytest.mark.parametrize('path', CONFIGS)
def test_feature_strides_match_the_priors(path, det_scope):
    from mmdet.registry import MODELS
    model = MODELS.build(load(path).model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 256, 256))
    strides = [256 // feat.shape[-1] for feat in feats]
    assert strides == STRIDES[path]
    head = model.rpn_head if path == FASTER_RCNN else model.bbox_head
    assert strides == [s for s, _ in head.prior_generator.strides]
    if path == FASTER_RCNN:
        extractor = model.roi_head.bbox_roi_extractor
        assert extractor.featmap_strides == strides[:4]


@pytest.mark.parametrize('path', CONFIGS)
def test_trains_one_iteration(path, toy_det_root, tmp_path):
    cfg = use_toy_data(load(path), toy_det_root, SHRINK[path])
    runner, before = train_one_iteration(cfg, tmp_path)
    assert LOSSES[path] <= set(logged_losses(runner))
    after = runner.model.state_dict()
    for prefix in ('backbone.', 'neck.', *HEADS[path]):
        assert changed(before, after, prefix), prefix

"""The mmdet project configs change only the backbone and what its strides
and channels require, their feature strides match the heads' priors, and
each trains on the toy COCO-format data: one iteration, or, for DINO and
YOLOX, a few with the small-input settings of ``projects/README.md``."""
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from project_runner import (changed, load, logged_losses, shrink_pipeline,
                            train_iterations, unexpected_changes)

from mmmobilemamba.datasets import DET_CLASSES

pytest.importorskip('mmdet')

FASTER_RCNN = ('mobilemamba_mmdet/configs/'
               'faster-rcnn_mobilemamba-b1_fpn_1x_coco.py')
RTMDET = 'mobilemamba_mmdet/configs/rtmdet_s_mobilemamba-b1_8xb32-300e_coco.py'
FCOS = 'mobilemamba_mmdet/configs/fcos_mobilemamba-b1_fpn_gn-head_1x_coco.py'
DINO = 'mobilemamba_mmdet/configs/dino-4scale_mobilemamba-b1_8xb2-12e_coco.py'
YOLOX = 'mobilemamba_mmdet/configs/yolox_s_mobilemamba-b1_8xb8-300e_coco.py'
CONFIGS = (FASTER_RCNN, RTMDET, FCOS, DINO, YOLOX)
UPSTREAM = {
    FASTER_RCNN: 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    RTMDET: 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    FCOS: 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    DINO: 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
    YOLOX: 'mmdet::yolox/yolox_s_8xb8-300e_coco.py',
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
    DINO: {'custom_imports', 'model.backbone', 'model.neck.in_channels'},
    YOLOX: {
        'custom_imports', 'model.backbone', 'model.neck.in_channels',
        'model.bbox_head.strides', 'model.data_preprocessor.pad_size_divisor',
        'model.data_preprocessor.batch_augments', *RGB_NORMALISATION
    },
}
# Image sizes of the pipelines divided by: Faster R-CNN's 1333x800 becomes
# 267x160, RTMDet's 640x640 (and its 1280 resize) 128x128 (and 256).
# FCOS's 1333x800 as Faster R-CNN's. DINO's resizes to a short side of
# 480-800 become 96-160, YOLOX's 640x640 mosaics 128x128.
SHRINK = {FASTER_RCNN: 5, RTMDET: 5, FCOS: 5, DINO: 5, YOLOX: 5}
HEADS = {
    FASTER_RCNN: ('rpn_head.', 'roi_head.'),
    RTMDET: ('bbox_head.', ),
    FCOS: ('bbox_head.', ),
    DINO: ('encoder.', 'decoder.', 'bbox_head.'),
    YOLOX: ('bbox_head.', ),
}
LOSSES = {
    FASTER_RCNN: {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'},
    RTMDET: {'loss_cls', 'loss_bbox'},
    FCOS: {'loss_cls', 'loss_bbox', 'loss_centerness'},
    DINO: {'loss_cls', 'loss_bbox', 'loss_iou', 'enc_loss_cls', 'dn_loss_cls'},
    YOLOX: {'loss_cls', 'loss_bbox', 'loss_obj'},
}
# The neck's strides the heads' priors must have.
STRIDES = {
    FASTER_RCNN: [4, 8, 16, 32, 64],
    RTMDET: [16, 32, 64],
    FCOS: [8, 16, 32, 64, 128],
    YOLOX: [16, 32, 64],
}
# What projects/README.md sets for DINO on small inputs: the toy images at a
# fifth of DINO's scales are 96 pixels or more a side, 50 encoder tokens on
# strides 16/32/64/128, so at most 50 queries, and at most 50 x 4 classes
# boxes kept per image (upstream: 900 queries, 300 boxes).
DINO_SMALL_INPUT = {'model.num_queries': 50, 'model.test_cfg.max_per_img': 100}
# YOLOX's multi-scale training as configured (size_divisor=64), drawn at
# every iteration and from sizes 192/256/320, none the toy mosaics' 128, so
# that every iteration after the first trains on a resized batch.
YOLOX_RESIZE = dict(random_size_range=(192, 320), interval=1)


@pytest.fixture
def det_scope():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def use_toy_data(cfg, root, factor):
    """Train ``cfg`` on the toy data with its pipelines shrunk by
    ``factor``."""
    dataset = cfg.train_dataloader.dataset
    # YOLOX's MultiImageMixDataset holds the pipeline, the dataset it wraps
    # the data.
    dataset.get('dataset', dataset).update(
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


@pytest.mark.parametrize('path', sorted(STRIDES))
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


@pytest.mark.parametrize('path', (FASTER_RCNN, RTMDET, FCOS))
def test_trains_one_iteration(path, toy_det_root, tmp_path):
    cfg = use_toy_data(load(path), toy_det_root, SHRINK[path])
    runner, before = train_iterations(cfg, tmp_path)
    assert LOSSES[path] <= set(logged_losses(runner))
    after = runner.model.state_dict()
    for prefix in ('backbone.', 'neck.', *HEADS[path]):
        assert changed(before, after, prefix), prefix


def test_dino_levels_match_the_deformable_attention(det_scope):
    """Four levels at strides 16/32/64/128, as many as the encoder's and
    the decoder's deformable attention sample."""
    from mmdet.registry import MODELS
    model = MODELS.build(load(DINO).model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 256, 256))
    assert [256 // feat.shape[-1] for feat in feats] == [16, 32, 64, 128]
    encoder_attention = model.encoder.layers[0].self_attn
    decoder_attention = model.decoder.layers[0].cross_attn
    assert len(feats) == model.num_feature_levels
    assert len(feats) == encoder_attention.num_levels
    assert len(feats) == decoder_attention.num_levels


def test_yolox_input_must_be_a_multiple_of_64(det_scope):
    """The PAFPN concatenates each level with the next coarser one
    upsampled by 2: a 160x160 batch, a multiple of 32 that upstream's
    size_divisor allows, gives 10x10, 5x5 and 3x3 maps, and 3x3 upsampled
    does not fit 5x5."""
    from mmdet.registry import MODELS
    model = MODELS.build(load(YOLOX).model).eval()
    with torch.no_grad():
        model.extract_feat(torch.randn(1, 3, 192, 192))
        with pytest.raises(RuntimeError, match='Sizes of tensors must match'):
            model.extract_feat(torch.randn(1, 3, 160, 160))


def test_dino_trains_and_predicts_on_small_images(toy_det_root, tmp_path):
    cfg = use_toy_data(load(DINO), toy_det_root, SHRINK[DINO])
    cfg.merge_from_dict(DINO_SMALL_INPUT)
    runner, before = train_iterations(cfg, tmp_path, iterations=2)
    assert LOSSES[DINO] <= set(logged_losses(runner))
    after = runner.model.state_dict()
    for prefix in ('backbone.', 'neck.', *HEADS[DINO]):
        assert changed(before, after, prefix), prefix

    # The top-k of max_per_img boxes over num_queries x classes scores.
    model = runner.model.eval()
    batch = model.data_preprocessor(next(iter(runner.train_dataloader)))
    with torch.no_grad():
        results = model(**batch, mode='predict')
    for result in results:
        assert len(result.pred_instances) == 100


class BackboneInputSizes(Hook):
    """Records the (height, width) of every batch the backbone sees."""

    def before_train(self, runner):
        self.sizes = []
        model = getattr(runner.model, 'module', runner.model)
        model.backbone.register_forward_pre_hook(
            lambda module, args: self.sizes.append(tuple(args[0].shape[2:])))


def test_yolox_trains_with_multi_scale_batches(toy_det_root, tmp_path):
    cfg = use_toy_data(load(YOLOX), toy_det_root, SHRINK[YOLOX])
    augment, = cfg.model.data_preprocessor.batch_augments
    augment.update(YOLOX_RESIZE)
    sizes = BackboneInputSizes()
    runner, before = train_iterations(
        cfg, tmp_path, iterations=3, hooks=[sizes])
    assert LOSSES[YOLOX] <= set(logged_losses(runner))
    after = runner.model.state_dict()
    for prefix in ('backbone.', 'neck.', *HEADS[YOLOX]):
        assert changed(before, after, prefix), prefix
    assert sizes.sizes[0] == (128, 128)
    assert all(h == w and h in (192, 256, 320) for h, w in sizes.sizes[1:])
    assert len(sizes.sizes) == 3


def test_yolox_pads_and_resizes_to_multiples_of_64():
    cfg = load(YOLOX)
    upstream = Config.fromstring(f'_base_ = {UPSTREAM[YOLOX]!r}', '.py')
    augment, = cfg.model.data_preprocessor.batch_augments
    upstream_augment, = upstream.model.data_preprocessor.batch_augments
    assert augment == dict(upstream_augment, size_divisor=64)
    assert cfg.model.data_preprocessor.pad_size_divisor == 64

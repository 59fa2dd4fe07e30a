_base_ = ['../retinanet_mobilemamba-b1_fpn_4xb4-1x_coco.py']

# RetinaNet with a MobileMamba-T2 backbone, from scratch (tools/quickstart.py
# starts it from its toy classifier), on the built-in toy detection dataset
# (4 classes, COCO layout, images of 160 to 256 pixels): a recipe that
# visibly learns in about two minutes on a CPU. Generate the data first:
#   python -m mmmobilemamba.datasets.toy_detection data/toy_det
num_classes = 4
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(pad_size_divisor=64),
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='t2',
        out_indices=(1, 2, 3),  # strides 16, 32, 64
        init_cfg=None),
    neck=dict(in_channels=[144, 272, 368], out_channels=64),
    bbox_head=dict(
        num_classes=num_classes,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64),
    test_cfg=dict(nms_pre=300, max_per_img=20))

# dataset settings: CocoDataset that names a bad file and warns about bad
# boxes (mmmobilemamba/datasets/checked/coco.py)
dataset_type = 'mmmobilemamba.CheckedCocoDataset'
data_root = 'data/toy_det'
metainfo = dict(
    classes=('disc', 'square', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 130, 200), (250, 170, 30), (120, 60, 200)])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + '/annotations/instances_val.json',
    metric='bbox',
    format_only=False)
test_evaluator = val_evaluator

# schedule settings
max_iters = 450
optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, end=10),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=False,
        begin=10,
        end=max_iters),
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)

# runtime settings
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    # written atomically, pruned after the save (resumable after a kill)
    checkpoint=dict(
        type='mmmobilemamba.AtomicCheckpointHook',
        by_epoch=False,
        interval=max_iters))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False)

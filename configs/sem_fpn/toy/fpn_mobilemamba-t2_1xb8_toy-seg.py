_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/default_runtime.py',
]

# Semantic FPN with a MobileMamba-T2 backbone, from scratch, on the built-in
# toy segmentation dataset (5 classes, ADE20K layout, images of 96 to 128
# pixels): a recipe that trains in about a minute on a CPU. Generate the data
# first:
#   python -m mmmobilemamba.datasets.toy_segmentation data/toy_seg
custom_imports = dict(imports=['mmmobilemamba'], allow_failed_imports=False)

num_classes = 5
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size_divisor=64)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmmobilemamba.MobileMamba',
        arch='t2',
        out_indices=(1, 2, 3)),  # strides 16, 32, 64
    neck=dict(in_channels=[144, 272, 368], out_channels=64, num_outs=3),
    decode_head=dict(
        in_channels=[64, 64, 64],
        in_index=[0, 1, 2],
        feature_strides=[16, 32, 64],
        channels=64,
        dropout_ratio=0.0,
        num_classes=num_classes,
        norm_cfg=norm_cfg))

# dataset settings: the ADE20K layout, suffixes and label convention (0 is
# ignored, classes from 1). ADE20KDataset itself only takes a subset of the
# 150 ADE20K classes (and then remaps their ids), hence its base class here,
# in the variant that names a bad file (mmmobilemamba/datasets/checked).
dataset_type = 'mmmobilemamba.CheckedBaseSegDataset'
data_root = 'data/toy_seg'
metainfo = dict(
    classes=('sky', 'ground', 'stripes', 'checker', 'blob'),
    palette=[[70, 130, 180], [140, 110, 60], [220, 20, 60], [250, 170, 30],
             [120, 60, 200]])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# schedule settings
max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
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
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

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

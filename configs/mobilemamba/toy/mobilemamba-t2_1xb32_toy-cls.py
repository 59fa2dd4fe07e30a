_base_ = [
    '../../_base_/models/mobilemamba.py',
    'mmpretrain::_base_/default_runtime.py',
]

# MobileMamba-T2 from scratch on the built-in toy dataset (6 classes of shapes
# and textures, 64x64): a recipe that trains in about a minute on a CPU.
# Generate the data first:
#   python -m mmmobilemamba.datasets.toy_classification data/toy_cls

model = dict(
    backbone=dict(arch='t2'),
    head=dict(
        num_classes=6,
        in_channels=368,
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

# dataset settings: CustomDataset that names an image it cannot read
# (mmmobilemamba/datasets/checked)
data_root = 'data/toy_cls'
data_preprocessor = dict(
    num_classes=6,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomFlip',
        prob=[0.25, 0.25],
        direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='mmmobilemamba.CheckedCustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='mmmobilemamba.CheckedCustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# schedule settings
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, end=10),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)

# runtime settings
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=4),
    # written atomically, pruned after the save (resumable after a kill)
    checkpoint=dict(
        type='mmmobilemamba.AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=2))
randomness = dict(seed=0)

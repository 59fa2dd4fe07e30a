_base_ = [
    '../_base_/models/mobilemamba.py',
    '../_base_/datasets/imagenet_bs128_mobilemamba.py',
    '../_base_/schedules/imagenet_bs1024_adamw_mobilemamba.py',
    'mmpretrain::_base_/default_runtime.py',
]

# MobileMamba-T4: trained and evaluated at 192x192.
model = dict(backbone=dict(arch='t4'), head=dict(in_channels=448))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=192,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    {{_base_.rand_augment}},
    {{_base_.random_erasing}},
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=219,  # 192 / 0.875
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=192),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

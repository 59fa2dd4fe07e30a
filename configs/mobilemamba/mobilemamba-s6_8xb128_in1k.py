_base_ = [
    '../_base_/models/mobilemamba.py',
    '../_base_/datasets/imagenet_bs128_mobilemamba.py',
    '../_base_/schedules/imagenet_bs1024_adamw_mobilemamba.py',
    'mmpretrain::_base_/default_runtime.py',
]

# MobileMamba-S6: trained and evaluated at 224x224.
model = dict(backbone=dict(arch='s6'), head=dict(in_channels=448))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
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
        scale=256,  # 224 / 0.875
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

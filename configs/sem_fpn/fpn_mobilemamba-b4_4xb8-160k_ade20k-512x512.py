_base_ = [
    'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py',
    '../_base_/models/mobilemamba-b4_seg.py',
]

# Semantic FPN with MobileMamba-B4 on ADE20K, as the official config.
model = dict(
    pretrained=None,
    backbone={{_base_.mobilemamba_b4}},
    neck=dict(in_channels=[200, 376, 448], num_outs=3),
    decode_head=dict(
        in_channels=[256, 256, 256],
        in_index=[0, 1, 2],
        feature_strides=[16, 32, 64],
        channels=128))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1.2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys=dict(norm=dict(decay_mult=0.), head=dict(lr_mult=10.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, end=1500),
    dict(
        type='CosineAnnealingLR',
        begin=80000,
        end=160000,
        T_max=80000,
        by_epoch=False,
        eta_min=0)
]
# CheckedADE20KDataset: ADE20KDataset that names a bad image or label map.
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    dataset=dict(type='mmmobilemamba.CheckedADE20KDataset'))
val_dataloader = dict(dataset=dict(type='mmmobilemamba.CheckedADE20KDataset'))
test_dataloader = val_dataloader
# Checkpoints written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook'))

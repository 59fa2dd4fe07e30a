_base_ = [
    'mmseg::pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    '../_base_/models/mobilemamba-b4_seg.py',
]

# PSPNet with MobileMamba-B4 on ADE20K, as the official config: the
# decode head reads stage 3 (448 channels, stride 64), the auxiliary head
# stage 2 (376 channels, stride 32).
model = dict(
    pretrained=None,
    backbone={{_base_.mobilemamba_b4}},
    decode_head=dict(in_channels=448, in_index=2, channels=256),
    auxiliary_head=dict(in_channels=376, in_index=1))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1.2e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.))),
    clip_grad=dict(_delete_=True, max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=False, end=500),
    dict(
        type='CosineAnnealingLR',
        begin=40000,
        end=80000,
        T_max=40000,
        by_epoch=False,
        eta_min=0)
]
train_dataloader = dict(batch_size=8, num_workers=8)

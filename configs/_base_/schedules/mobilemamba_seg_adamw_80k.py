# The MobileMamba DeepLabv3/PSPNet schedule on ADE20K: AdamW lr 1.2e-4 for
# 4 GPUs x 8 images, wd 0.05 (none on norms), gradient clipping at 0.1,
# 80k iterations with a 500-iteration linear warm-up from lr * 1e-5 and cosine
# over the second half. Segmentation configs use it as
# ``optim_wrapper = {{_base_.adamw_optim_wrapper}}`` and
# ``param_scheduler = {{_base_.warmup_cosine_80k}}``.
adamw_optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1.2e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.))),
    clip_grad=dict(_delete_=True, max_norm=0.1, norm_type=2))
warmup_cosine_80k = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=False, end=500),
    dict(
        type='CosineAnnealingLR',
        begin=40000,
        end=80000,
        T_max=40000,
        by_epoch=False,
        eta_min=0)
]

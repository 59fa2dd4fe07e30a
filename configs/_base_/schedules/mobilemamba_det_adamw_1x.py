# The MobileMamba detection schedule: AdamW lr 2e-4 at a total batch of 16,
# wd 0.05 (none on norms), gradient clipping at 0.1, 12 epochs with a
# 500-iteration linear warm-up from lr * 1e-5 and a cosine over the second
# half stepped once per epoch (the logged lr of epochs 7-12 is 2.0, 1.866,
# 1.5, 1.0, 0.5, 0.134 e-4), as in the authors' downstream configs
# (downstream/det/configs/{mask_rcnn,retinanet}/*.py: bs_ratio = 2, i.e.
# 4 GPUs x 4 images; param_scheduler by_epoch=True). Detection configs use
# it as
# ``optim_wrapper = {{_base_.adamw_optim_wrapper}}`` and
# ``param_scheduler = {{_base_.warmup_cosine_1x}}``.
adamw_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}),
    clip_grad=dict(max_norm=0.1, norm_type=2))
warmup_cosine_1x = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=False, begin=0, end=500),
    dict(
        type='CosineAnnealingLR',
        eta_min=0,
        begin=6,
        end=12,
        T_max=6,
        by_epoch=True)
]

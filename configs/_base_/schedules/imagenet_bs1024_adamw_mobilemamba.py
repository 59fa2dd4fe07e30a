# The official MobileMamba schedule: AdamW (betas 0.9/0.999, wd 0.05, no
# decay on norms, biases and 1-D parameters), lr 1.5e-3 at batch 1024,
# 20 warm-up epochs from lr/1e3, cosine to lr/1e2 at epoch 300, gradient
# clipping at 5, EMA of the weights with decay 0.9998.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py'

optim_wrapper = dict(
    optimizer=dict(lr=1.5e-3),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1.5e-5,
        by_epoch=True,
        begin=20,
        convert_to_iter_based=True)
]

custom_hooks = [dict(type='EMAHook', momentum=2e-4, priority='ABOVE_NORMAL')]

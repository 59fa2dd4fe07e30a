# The official MobileMamba ImageNet schedule at its total batch of 1024
# (lewandofskee/MobileMamba configs/mobilemamba/mobilemamba_*.py and
# trainer/_base_trainer.py, which scales lr, lr_min and warmup_lr by
# batch / 512): AdamW (betas 0.9/0.999, wd 0.05, no decay on norms, biases
# and 1-D parameters), lr 3e-3, timm's cosine from 3e-3 to 3e-5 over the
# whole run with a 20-epoch linear warm-up from 3e-6 laid over its start,
# stepped every iteration; gradient-norm clipping at 5; fp16 AMP with a
# dynamic loss scale (trainer.scaler='native'); EMA of the whole state dict,
# BN statistics included, with decay 0.9998 every iteration; validation (of
# the EMA weights) every 5 epochs, every epoch from epoch 200, keeping the
# best-top-1 checkpoint (the official README reports the best EMA top-1).
# The cosine ends at train_cfg.max_epochs (the Runner's default `end`), so
# the 1000-epoch distilled configs only change max_epochs.
# fp32: --cfg-options optim_wrapper.type=OptimWrapper;
# bf16: --cfg-options optim_wrapper.dtype=bfloat16.
_base_ = [
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(lr=3e-3),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))

param_scheduler = [
    dict(
        type='mmmobilemamba.WarmupCosineLR',
        warmup=20,
        warmup_ratio=1e-3,
        eta_min_ratio=1e-2,
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True)
]

train_cfg = dict(
    by_epoch=True,
    max_epochs=300,
    val_interval=5,
    dynamic_intervals=[(200, 1)])
# Checkpoints are written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(
        type='mmmobilemamba.AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater'))
custom_hooks = [
    dict(
        type='EMAHook',
        momentum=2e-4,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
auto_scale_lr = dict(base_batch_size=1024)

"""The ImageNet configs train the official recipe.

Official values from lewandofskee/MobileMamba at 0980f48; each assertion
names the file and line it comes from.
"""
import copy
import math

import pytest
import torch
import torch.nn as nn
from conftest import IMAGENET_CONFIGS, load
from mmengine.registry import HOOKS, MODELS, PARAM_SCHEDULERS
from mmengine.runner.loops import EpochBasedTrainLoop
from torch.utils.data import DataLoader

import mmmobilemamba  # noqa: F401 (registers the scheduler)

EPOCH_LENGTH = 10  # iterations per epoch of the simulated runs


def test_there_are_twelve_imagenet_configs():
    assert len(IMAGENET_CONFIGS) == 12


def official_lr(epoch_full, iters):
    """The lr of every iteration as the official trainer sets it.

    configs/mobilemamba/mobilemamba_b1.py:9-14,59-62 (lr 1.5e-3, lr_min
    lr/1e2, warmup_lr lr/1e3, 20 warm-up epochs, use_iters=True), scaled by
    batch/512 = 2 at the batch of 1024 (trainer/_base_trainer.py:61-63);
    optim/scheduler.py:29-30,57-65 (timm CosineLRScheduler over all
    iterations); trainer/_base_trainer.py:198 (stepped with the iteration
    index before each step).
    """
    from timm.scheduler.cosine_lr import CosineLRScheduler
    optimizer = torch.optim.AdamW(nn.Linear(1, 1).parameters(), lr=3e-3)
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=epoch_full * iters,
        lr_min=3e-5,
        warmup_lr_init=3e-6,
        warmup_t=20 * iters,
        cycle_decay=0.1,
        cycle_limit=1,
        t_in_epochs=True)
    lrs = []
    for it in range(epoch_full * iters):
        scheduler.step(it)
        lrs.append(optimizer.param_groups[0]['lr'])
    return lrs


def our_lr(cfg, iters):
    """The lr of every iteration as the Runner schedules it (``end``
    defaulting to ``max_epochs`` as in ``Runner.build_param_scheduler``)."""
    optimizer = torch.optim.AdamW(
        nn.Linear(1, 1).parameters(), lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = []
    for scheduler_cfg in copy.deepcopy(cfg.param_scheduler):
        scheduler_cfg.setdefault('end', cfg.train_cfg.max_epochs)
        schedulers.append(
            PARAM_SCHEDULERS.build(
                scheduler_cfg,
                default_args=dict(optimizer=optimizer, epoch_length=iters)))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs * iters):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_lr_curve_is_the_official_one(path):
    cfg = load(path)
    epochs = 1000 if '-distill' in path else 300
    # configs/mobilemamba/mobilemamba_b1s.py:9 (epoch_full = 1000)
    assert cfg.train_cfg.max_epochs == epochs
    official = official_lr(epochs, EPOCH_LENGTH)
    ours = our_lr(cfg, EPOCH_LENGTH)
    torch.testing.assert_close(ours, official, rtol=1e-9, atol=0)
    # The logged figures: peak 0.002997 (end of the warm-up; closer to 3e-3
    # with 1251 iterations per epoch), 0.989 x peak
    # at epoch 20, final 3e-5.
    assert ours[0] == pytest.approx(3e-6)
    assert max(ours) == pytest.approx(3e-3, rel=1e-2)
    assert ours[20 * EPOCH_LENGTH] / 3e-3 == pytest.approx(
        3e-5 / 3e-3 + 0.5 * (1 - 1e-2) * (1 + math.cos(math.pi * 20 / epochs)))
    if epochs == 300:
        assert ours[150 * EPOCH_LENGTH] == pytest.approx(0.001515)
    assert ours[-1] == pytest.approx(3e-5, rel=1e-3)


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_lr_scales_with_the_batch_from_1024(path):
    cfg = load(path)
    # trainer/_base_trainer.py:61 (lr *= batch_size / 512 with the configured
    # 1.5e-3 at batch_size = 1024, configs/mobilemamba/mobilemamba_b1.py:12)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-3 * 1024 / 512)
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_dataloader.batch_size * 8 == 1024
    # The warm-up start and the final lr are ratios of the lr, so that
    # auto_scale_lr scales all three as the official trainer does
    # (trainer/_base_trainer.py:61-63).
    (scheduler, ) = cfg.param_scheduler
    assert scheduler.warmup_ratio == 1e-3 and scheduler.eta_min_ratio == 1e-2


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_ema_averages_the_whole_state_dict(path):
    """trainer/_base_trainer.py:138-145: every float entry of the state
    dict, BN running statistics included, decays by 0.9998 each iteration
    (configs/mobilemamba/mobilemamba_b1.py:91); integer buffers are left
    alone."""
    cfg = load(path)
    (ema_cfg, ) = [h for h in cfg.custom_hooks if h.type == 'EMAHook']
    ema_cfg = copy.deepcopy(ema_cfg)
    ema_cfg.pop('priority')  # taken by Runner.register_hook
    hook = HOOKS.build(ema_cfg)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    # What EMAHook.before_run builds.
    averaged = MODELS.build(hook.ema_cfg, default_args=dict(model=model))
    official = copy.deepcopy(model)  # net_E: deepcopy(net), line 46
    decay = 0.9998
    for step in range(4):
        model(torch.randn(2, 3, 8, 8) + step)  # moves the BN statistics
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.1)
        averaged.update_parameters(model)
        for ema, current in zip(official.state_dict().values(),
                                model.state_dict().values()):
            if ema.dtype == torch.int64:
                continue
            ema.mul_(decay).add_(current, alpha=1 - decay)
        if step == 0:  # mmengine starts from the first step's weights
            official.load_state_dict(model.state_dict())
    for key, value in official.state_dict().items():
        if value.dtype == torch.int64:
            continue
        torch.testing.assert_close(
            averaged.module.state_dict()[key], value, msg=key)


def validated_epochs(train_cfg):
    """The epochs after which mmengine's EpochBasedTrainLoop validates."""
    loop = EpochBasedTrainLoop(
        runner=None,
        dataloader=DataLoader([0]),
        max_epochs=train_cfg.max_epochs,
        val_begin=train_cfg.get('val_begin', 1),
        val_interval=train_cfg.val_interval,
        dynamic_intervals=train_cfg.get('dynamic_intervals'))
    epochs = []
    for epoch in range(loop.max_epochs):
        loop._epoch = epoch
        loop._decide_current_val_interval()
        done = epoch + 1  # ``run`` tests the counter after the epoch
        if done >= loop.val_begin and (done % loop.val_interval == 0
                                       or done == loop.max_epochs):
            epochs.append(done)
    return epochs


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_validation_schedule_and_best_ema_checkpoint(path):
    cfg = load(path)
    epochs = cfg.train_cfg.max_epochs
    # trainer/_base_trainer.py:230 with test_start_epoch = 200 and
    # test_per_epoch = 5 (configs/mobilemamba/mobilemamba_b1.py:11,87)
    official = [e for e in range(1, epochs + 1) if e >= 200 or e % 5 == 0]
    assert validated_epochs(cfg.train_cfg) == official
    # The reported number is the best EMA top-1 (trainer/cls.py:85-93,
    # _base_trainer.py:303-304): the EMA weights are the ones validated
    # (EMAHook swaps them in) and the best checkpoint is kept by top-1.
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.save_best == 'accuracy/top1'
    assert checkpoint.rule == 'greater'
    assert [h.type for h in cfg.custom_hooks] == ['EMAHook']


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_mixed_precision_and_loader(path):
    cfg = load(path)
    # configs/mobilemamba/mobilemamba_b1.py:90 (trainer.scaler = 'native':
    # torch.cuda.amp autocast in fp16 with a dynamic GradScaler)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.get('dtype') in (None, 'float16')
    assert cfg.optim_wrapper.get('loss_scale', 'dynamic') == 'dynamic'
    # loss.clip_grad = 5.0, applied as a norm (trainer/cls.py:49-54)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)
    # configs/mobilemamba/mobilemamba_b1.py:69 (trainer.data.drop_last)
    assert cfg.train_dataloader.drop_last is True

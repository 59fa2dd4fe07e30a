"""The detection configs train the official recipes.

Official: downstream/det/configs/ of lewandofskee/MobileMamba at 0980f48
and the training logs its README links (weights/downstream/det/*.log).
"""
import copy

import pytest
import torch
import torch.nn as nn
from conftest import load
from mmengine.registry import PARAM_SCHEDULERS

TWO_STAGE_AND_RETINA = [
    'configs/mask_rcnn/mask-rcnn_mobilemamba-b1_fpn_4xb4-1x_coco.py',
    'configs/retinanet/retinanet_mobilemamba-b1_fpn_4xb4-1x_coco.py',
]
SSDLITE = 'configs/ssdlite/ssdlite_mobilemamba-b1_8xb24-600e_coco-{}.py'


@pytest.mark.parametrize('size', [320, 512])
def test_ssdlite_anchors_are_the_official_ones(size):
    # ssd/ssdlite_mobilemamba_b1_8gpu_2lr_coco.py:53-59 and
    # ssd/ssdlite_mobilemamba_b1_8gpu_2lr_512_coco.py:53-59: the same
    # anchors at 320 and 512 (not rescaled to 512).
    anchors = load(SSDLITE.format(size)).model.bbox_head.anchor_generator
    assert anchors.strides == [16, 32, 64, 107, 160, 320]
    assert anchors.min_sizes == [48, 100, 150, 202, 253, 304]
    assert anchors.max_sizes == [100, 150, 202, 253, 304, 320]
    assert anchors.ratios == [[2, 3]] * 6


@pytest.mark.parametrize('path', TWO_STAGE_AND_RETINA)
def test_total_batch_is_the_official_16(path):
    cfg = load(path)
    # mask_rcnn/mask-rcnn_mobilemamba_b1_fpn_1x_coco.py:38,64 (bs_ratio = 2:
    # batch_size = 4 per GPU) on 4 GPUs: 7330 iterations per epoch in
    # weights/downstream/det/retinanet.log (117k images / 16).
    assert cfg.train_dataloader.batch_size == 4
    assert '_4xb4-' in path
    assert cfg.optim_wrapper.optimizer.lr == 2e-4
    # Other GPU counts scale the lr from the official batch.
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)


def lr_per_epoch(cfg, epoch_length):
    """The lr of the last iteration of each epoch, stepping the schedulers
    as mmengine's ParamSchedulerHook does."""
    optimizer = torch.optim.AdamW(
        nn.Linear(1, 1).parameters(), lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [
        PARAM_SCHEDULERS.build(
            copy.deepcopy(s),
            default_args=dict(optimizer=optimizer, epoch_length=epoch_length))
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        epoch = []
        for _ in range(epoch_length):
            epoch.append(optimizer.param_groups[0]['lr'])
            optimizer.step()
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
        lrs.append(epoch)
    return lrs


@pytest.mark.parametrize('path', TWO_STAGE_AND_RETINA)
def test_cosine_steps_once_per_epoch(path):
    cfg = load(path)
    lrs = lr_per_epoch(cfg, epoch_length=600)
    # weights/downstream/det/retinanet.log: the lr of epochs 7-12 (1-based)
    official = [2.0e-4, 1.866e-4, 1.5e-4, 1.0e-4, 0.5e-4, 0.134e-4]
    for epoch, expected in zip(range(6, 12), official):
        assert lrs[epoch][0] == pytest.approx(expected, rel=2e-3)
        assert lrs[epoch][-1] == lrs[epoch][0]  # a staircase
    # The 500-iteration linear warm-up from lr * 1e-5
    # (mask-rcnn_mobilemamba_b1_fpn_1x_coco.py:51-52).
    assert lrs[0][0] == pytest.approx(2e-9)
    assert lrs[0][500] == pytest.approx(2e-4)

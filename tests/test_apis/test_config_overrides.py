"""Run-time config changes: data root, iteration count, schedule length,
validations, checkpoints."""
import math
import os.path as osp

import pytest
from mmengine.config import Config

from mmmobilemamba.apis import (scale_schedule, set_checkpoint_interval,
                                set_data_root, set_max_iters,
                                set_validation_points)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(REPO, 'configs', 'retinanet', 'toy',
                     'retinanet_mobilemamba-t2_fpn_toy-det.py')
CLASSIFIER = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                      'mobilemamba-t2_1xb32_toy-cls.py')


def test_data_root_moves_loaders_and_coco_annotations():
    cfg = Config.fromfile(RETINANET)
    set_data_root(cfg, '/datasets/toy')
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == '/datasets/toy'
    for split in ('val', 'test'):
        assert cfg[f'{split}_evaluator'].ann_file == (
            '/datasets/toy/annotations/instances_val.json')


def test_data_root_refuses_annotations_elsewhere():
    cfg = Config.fromfile(RETINANET)
    cfg.val_evaluator.ann_file = '/elsewhere/instances_val.json'
    with pytest.raises(ValueError, match='does not lie under'):
        set_data_root(cfg, '/datasets/toy')


def test_max_iters_cuts_iteration_schedules():
    cfg = Config.fromfile(RETINANET)
    set_max_iters(cfg, 5)
    assert cfg.train_cfg == dict(
        type='IterBasedTrainLoop', max_iters=5, val_interval=5)
    # The warm-up (iterations 0-10) is cut at 5; the cosine from 10 dropped.
    (warmup, ) = cfg.param_scheduler
    assert warmup.type == 'LinearLR'
    assert (warmup.get('begin', 0), warmup.end) == (0, 5)
    assert cfg.default_hooks.logger.interval == 5


def test_max_iters_turns_epochs_into_iterations():
    cfg = Config.fromfile(CLASSIFIER)
    assert cfg.train_cfg.by_epoch
    set_max_iters(cfg, 40)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 10 and not warmup.by_epoch
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.end, cosine.by_epoch) == (40, False)
    assert 'convert_to_iter_based' not in cosine
    assert not cfg.log_processor.by_epoch


def test_max_iters_refuses_epoch_milestones():
    cfg = Config.fromfile(CLASSIFIER)
    cfg.param_scheduler = [dict(type='MultiStepLR', milestones=[2], end=3)]
    with pytest.raises(ValueError, match='epoch milestones'):
        set_max_iters(cfg, 40)
    with pytest.raises(ValueError, match='positive'):
        set_max_iters(cfg, 0)


def test_checkpoint_interval():
    cfg = Config.fromfile(RETINANET)
    set_checkpoint_interval(cfg, parts=5, keep=2)
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.interval == math.ceil(cfg.train_cfg.max_iters / 5)
    assert checkpoint.max_keep_ckpts == 2
    assert not checkpoint.by_epoch
    # Epoch-based runs keep their per-epoch checkpoints.
    cfg = Config.fromfile(CLASSIFIER)
    before = cfg.default_hooks.checkpoint.copy()
    set_checkpoint_interval(cfg)
    assert cfg.default_hooks.checkpoint == before


def test_scale_schedule_keeps_the_shape_of_iteration_schedules():
    cfg = Config.fromfile(RETINANET)
    iters = cfg.train_cfg.max_iters
    scale_schedule(cfg, 4)
    assert cfg.train_cfg.max_iters == 4 * iters
    assert cfg.train_cfg.val_interval == 4 * iters
    warmup, cosine = cfg.param_scheduler
    assert (warmup.get('begin', 0), warmup.end) == (0, 40)
    assert (cosine.begin, cosine.end) == (40, 4 * iters)


def test_scale_schedule_of_epochs():
    cfg = Config.fromfile(CLASSIFIER)
    epochs = cfg.train_cfg.max_epochs
    ends = [scheduler.get('end') for scheduler in cfg.param_scheduler]
    scale_schedule(cfg, 3)
    assert cfg.train_cfg.max_epochs == 3 * epochs
    assert [scheduler.get('end') for scheduler in cfg.param_scheduler
            ] == [end and 3 * end for end in ends]
    with pytest.raises(ValueError, match='positive'):
        scale_schedule(cfg, 0)


@pytest.mark.parametrize('points,interval', [(4, 112), (1, 450), (1000, 1)])
def test_validation_points(points, interval):
    cfg = Config.fromfile(RETINANET)
    assert cfg.train_cfg.max_iters == 450
    set_validation_points(cfg, points)
    assert cfg.train_cfg.val_interval == interval

"""``configs/*/toy-gpu``: the real det/seg configs pointed at the built-in
datasets. They keep the real model, input size, batch and schedule type,
and their datasets give at least 50 iterations of training."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_GPU = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(osp.join(REPO, 'configs', '*', 'toy-gpu', '*.py')))
MIN_ITERS = 50


def real_config(path):
    (base, ) = Config._get_base_files(osp.join(REPO, path))
    return Config.fromfile(
        osp.normpath(osp.join(REPO, osp.dirname(path), base)))


def pipelines(cfg):
    dataset = cfg.train_dataloader.dataset
    dataset = dataset.get('dataset', dataset)  # RepeatDataset (SSDLite)
    return dataset.pipeline, cfg.val_dataloader.dataset.pipeline


def test_every_task_has_one():
    assert {path.split('/')[1]
            for path in TOY_GPU} == {
                'mask_rcnn', 'retinanet', 'ssdlite', 'sem_fpn', 'deeplabv3',
                'pspnet'
            }
    assert len(TOY_GPU) == 7  # SSDLite at 320 and 512


@pytest.mark.parametrize('path', TOY_GPU)
def test_keeps_the_real_recipe(path):
    cfg, real = Config.fromfile(osp.join(REPO, path)), real_config(path)
    assert cfg.model.type == real.model.type
    assert cfg.model.backbone.arch == real.model.backbone.arch
    assert cfg.model.backbone.init_cfg is None  # no ImageNet weights there
    assert pipelines(cfg) == pipelines(real)
    assert cfg.train_dataloader.batch_size == real.train_dataloader.batch_size
    assert cfg.optim_wrapper == real.optim_wrapper
    assert cfg.train_cfg.type == real.train_cfg.type


@pytest.mark.parametrize('path', TOY_GPU)
def test_trains_at_least_50_iterations_on_the_toy_data(path, det_root,
                                                       seg_root):
    cfg = Config.fromfile(osp.join(REPO, path))
    init_default_scope(cfg.default_scope)
    for split in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[split].dataset
        inner = dataset.get('dataset', dataset)
        # data/toy_* in the config; the fixtures' copy here
        assert inner.data_root.rstrip('/') in ('data/toy_det', 'data/toy_seg')
        inner.data_root = seg_root if 'seg' in inner.data_root else det_root
        assert len(DATASETS.build(dataset)) > 0, split
    loop = cfg.train_cfg
    if loop.type == 'IterBasedTrainLoop':
        iters = loop.max_iters
    else:
        iters = (
            len(DATASETS.build(cfg.train_dataloader.dataset)) //
            cfg.train_dataloader.batch_size * loop.max_epochs)
    assert iters >= MIN_ITERS
    assert loop.val_interval == (
        loop.max_iters if 'max_iters' in loop else loop.max_epochs)

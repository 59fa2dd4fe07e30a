"""The mmseg configs build, round-trip and train a step on CPU."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(path, REPO) for folder in ('sem_fpn', 'deeplabv3', 'pspnet')
    for path in glob.glob(osp.join(REPO, 'configs', folder, '*.py')))


@pytest.fixture(autouse=True)
def seg_scope():
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmseg')


def build(path):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.model.backbone.init_cfg = None  # no released weights here
    return cfg, revert_sync_batchnorm(MODELS.build(cfg.model))


def test_every_official_segmentor_has_a_config():
    assert [osp.basename(p).split('_')[0]
            for p in CONFIGS] == ['deeplabv3', 'pspnet', 'fpn']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_round_trips_and_trains_a_step(path, tmp_path):
    from mmseg.structures import SegDataSample
    cfg, model = build(path)
    assert cfg.model.backbone.arch == 'b4'
    assert cfg.model.backbone.out_indices == (1, 2, 3)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    Compose(cfg.train_dataloader.dataset.pipeline)
    Compose(cfg.test_dataloader.dataset.pipeline)
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    assert Config.fromfile(str(dumped)).to_dict() == cfg.to_dict()

    model.train()
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, 128, 128)))
        sample.set_metainfo(dict(img_shape=(128, 128), pad_shape=(128, 128)))
        samples.append(sample)
    losses = model(torch.randn(2, 3, 128, 128), samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed[0].conv.weight.grad is not None
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 128, 128), mode='tensor')
    assert logits.shape[1] == 150


def test_semantic_fpn_parameters_match_the_paper():
    """19.8M as the paper counts: the frozen Haar banks included."""
    _, model = build(CONFIGS[-1])
    params = sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for n, b in model.named_buffers() if 'wt_filter' in n)
    assert round(params / 1e6, 1) == 19.8

"""Every mmpretrain config builds (model and pipelines) and round-trips."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(path, REPO) for path in glob.glob(
        osp.join(REPO, 'configs', 'mobilemamba', '**', '*.py'),
        recursive=True))
# arch: (resolution, paper params in M)
PAPER = dict(
    t2=(192, 8.8),
    t4=(192, 14.2),
    s6=(224, 15.0),
    b1=(256, 17.1),
    b2=(384, 17.1),
    b4=(512, 17.1))


def variant(path):
    return osp.basename(path).split('_')[0].split('-')[1]


@pytest.fixture(autouse=True)
def transforms(pretrain_scope):
    import mmpretrain.datasets  # noqa: F401 (registers the transforms)


def test_all_variants_have_configs():
    names = {osp.basename(p) for p in CONFIGS}
    for arch in PAPER:
        for suffix in ('', '-distill'):
            assert f'mobilemamba-{arch}{suffix}_8xb128_in1k.py' in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_and_round_trips(path, tmp_path):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, path))
    model = MODELS.build(cfg.model)
    Compose(cfg.train_dataloader.dataset.pipeline)
    Compose(cfg.test_dataloader.dataset.pipeline)

    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    assert Config.fromfile(str(dumped)).to_dict() == cfg.to_dict()

    if 'toy' in path:
        return
    arch = variant(path)
    resolution, params = PAPER[arch]
    assert cfg.model.backbone.arch == arch
    assert cfg.test_dataloader.dataset.pipeline[-2].crop_size == resolution
    assert cfg.test_dataloader.dataset.pipeline[1].scale == int(resolution /
                                                                0.875)
    assert cfg.train_dataloader.dataset.pipeline[1].scale == resolution
    if 'deploy' not in path:
        # The paper counts the frozen Haar filter banks too (official
        # nn.Parameters, buffers here).
        student = [
            t.numel() for name, t in list(model.named_parameters()) +
            list(model.named_buffers())
            if not name.startswith('teacher.') and (
                name.endswith('wt_filter') or t.requires_grad)
        ]
        assert round(sum(student) / 1e6, 1) == params


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if '/deploy/' not in p and 'toy' not in p])
def test_official_recipe(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    # The schedule, EMA and precision: tests/test_recipes.
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.betas == (0.9, 0.999) and optimizer.weight_decay == 0.05
    distilled = '-distill' in path
    assert cfg.train_cfg.max_epochs == (1000 if distilled else 300)
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [a['alpha'] for a in cfg.model.train_cfg.augments] == [0.8, 1.0]
    expected_drop_path = 0.03 if variant(path).startswith('b') else 0.
    from mmmobilemamba.models import MobileMamba
    backbone = MobileMamba(**{
        k: v
        for k, v in cfg.model.backbone.items() if k != 'type'
    })
    assert backbone.drop_path_rate == expected_drop_path


@pytest.mark.parametrize('arch', ['t2', 'b1'])
def test_deploy_config_gives_the_same_logits(arch, tmp_path):
    """A trained-statistics model, fused and loaded into the deploy config,
    gives the unfused logits."""
    from mmpretrain import get_model
    path = osp.join(REPO, 'configs', 'mobilemamba',
                    f'mobilemamba-{arch}_8xb128_in1k.py')
    model = get_model(path)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model.extract_feat(torch.randn(4, 3, 128, 128))
            model.head.norm(torch.randn(4, model.head.in_channels) + 1)
    model.eval()
    inputs = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        reference = model(inputs, mode='tensor')
        model.switch_to_deploy()
    fused = tmp_path / 'fused.pth'
    torch.save(dict(state_dict=model.state_dict()), fused)
    deployed = get_model(
        osp.join(REPO, 'configs', 'mobilemamba', 'deploy',
                 f'mobilemamba-{arch}_8xb128_in1k.py'),
        pretrained=str(fused)).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            deployed(inputs, mode='tensor'), reference, atol=1e-4, rtol=1e-4)

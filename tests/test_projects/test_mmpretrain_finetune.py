"""The fine-tuning project: both configs train one iteration on the toy
folder dataset; the linear probe loads a classifier checkpoint through
``init_cfg`` and trains the head alone."""
import pytest
import torch
from mmengine.config import Config
from project_runner import (REPO, changed, load, logged_losses,
                            shrink_pipeline, train_iterations,
                            unexpected_changes)

from mmmobilemamba.datasets import CLASSES

pytest.importorskip('mmpretrain')

FINETUNE = ('mobilemamba_custom_finetune/configs/'
            'mobilemamba-b1_finetune-1xb32-30e_custom.py')
LINEAR_PROBE = ('mobilemamba_custom_finetune/configs/'
                'mobilemamba-b1_linear-probe-1xb32-30e_custom.py')
UPSTREAM = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
CLASSIFIER = f'{REPO}/configs/mobilemamba/mobilemamba-b1_8xb128_in1k.py'
# The 224x224 crops (and the 256 resize) become 64x64 (73), the toy size.
SHRINK = 3.5


def use_toy_data(cfg, root):
    """Train ``cfg`` on the toy folder dataset, at its 64x64 size."""
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = root
    shrink_pipeline(dataset.pipeline, SHRINK)
    cfg.model.head.num_classes = len(CLASSES)
    cfg.data_preprocessor.num_classes = len(CLASSES)
    return cfg


@pytest.fixture(scope='module')
def classifier_checkpoint(tmp_path_factory):
    """A checkpoint of a freshly initialised MobileMamba-B1 ImageNet
    classifier, as the converter writes it. Its seed is not the Runner's,
    and its BN statistics are not the defaults, so that nothing in it is
    what a randomly initialised backbone holds."""
    from mmpretrain import get_model
    torch.manual_seed(1234)
    model = get_model(CLASSIFIER)
    model.init_weights()
    for name, buffer in model.named_buffers():
        if name.endswith(('running_mean', 'running_var')):
            buffer.uniform_(0.5, 1.5)
    path = str(tmp_path_factory.mktemp('classifier') / 'b1_in1k.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def test_finetune_swaps_the_backbone_and_the_data():
    cfg = load(FINETUNE, pretrained=True)
    upstream = Config.fromstring(f'_base_ = {UPSTREAM!r}', '.py')
    allowed = {
        'custom_imports', 'num_classes', 'data_root', 'max_epochs',
        'model.backbone', 'model.head.num_classes', 'model.head.in_channels',
        'data_preprocessor.num_classes', 'train_dataloader.dataset',
        'val_dataloader.dataset', 'test_dataloader.dataset', 'optim_wrapper',
        'param_scheduler', 'train_cfg.max_epochs', 'auto_scale_lr'
    }
    assert unexpected_changes(upstream, cfg, allowed) == set()
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.type == 'CustomDataset'
        assert dataset.data_prefix == ('train' if split == 'train' else 'val')
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/mobilemamba-b1_in1k.pth',
        prefix='backbone.')


def test_linear_probe_freezes_the_finetuning_recipe():
    allowed = {
        'model.backbone.frozen_stages', 'model.backbone.norm_eval',
        'optim_wrapper.optimizer.lr', 'optim_wrapper.optimizer.weight_decay'
    }
    assert unexpected_changes(load(FINETUNE), load(LINEAR_PROBE),
                              allowed) == set()


def test_finetune_trains_backbone_and_head(toy_cls_root, tmp_path):
    cfg = use_toy_data(load(FINETUNE), toy_cls_root)
    runner, before = train_iterations(cfg, tmp_path)
    logged_losses(runner)
    after = runner.model.state_dict()
    assert changed(before, after, 'backbone.')
    assert changed(before, after, 'head.')


def test_linear_probe_loads_the_checkpoint_and_trains_only_the_head(
        toy_cls_root, classifier_checkpoint, tmp_path):
    cfg = use_toy_data(load(LINEAR_PROBE, pretrained=True), toy_cls_root)
    cfg.model.backbone.init_cfg.checkpoint = classifier_checkpoint
    runner, before = train_iterations(cfg, tmp_path)
    logged_losses(runner)
    model = runner.model
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())

    # Every backbone tensor, BN statistics included, is the checkpoint's,
    # before and after the iteration; the new head trained.
    loaded = torch.load(classifier_checkpoint, weights_only=True)
    backbone = {
        name: tensor
        for name, tensor in loaded['state_dict'].items()
        if name.startswith('backbone.')
    }
    after = model.state_dict()
    assert {n for n in after if n.startswith('backbone.')} == set(backbone)
    for name, tensor in backbone.items():
        assert torch.equal(before[name], tensor), name
        assert torch.equal(after[name], tensor), name
    assert changed(before, after, 'head.')

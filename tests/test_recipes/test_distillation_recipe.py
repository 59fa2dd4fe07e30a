"""The distilled (†) configs train the official recipe: KD weight,
mandatory teacher weights in the official layout, teacher input resize.

Official: configs/mobilemamba/mobilemamba_*s.py:91-99 (the KD loss term and
its teacher) and loss/cls_loss.py:64-105 (CLSKDLoss).
"""
import copy
import os.path as osp

import pytest
import torch
from conftest import IMAGENET_CONFIGS, REPO, load, official_module
from mmengine.registry import init_default_scope

from mmmobilemamba.models.utils import load_teacher_checkpoint

DISTILLED = [p for p in IMAGENET_CONFIGS if '-distill' in p]
OFFICIAL = osp.join(REPO, 'tests', 'data', 'official')
teacher_weights = official_module('teacher_weights')

TINY_TEACHER = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512))


def build(path, **model):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = load(path)
    cfg.merge_from_dict(copy.deepcopy(dict(model=model)))
    # As the Runner passes it.
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return MODELS.build(cfg.model)


def test_there_are_six_distilled_configs():
    assert len(DISTILLED) == 6


@pytest.mark.parametrize('path', DISTILLED)
def test_kd_loss_is_the_official_one(path):
    cfg = load(path).model
    # mobilemamba_b1s.py:98: CLSKDLoss lam=5.0, kd_type='soft', tau=1.0,
    # size=224, mean_t=(0, 0, 0), std_t=(1, 1, 1) on [0, 1] images
    assert cfg.distill_loss.loss_weight == 5.0 and cfg.distill_loss.tau == 1.
    assert cfg.teacher_size == 224
    assert cfg.teacher_mean == [0.] * 3 and cfg.teacher_std == [255.] * 3
    # mobilemamba_b1s.py:92 (tea_model.name = 'tresnet_l_v2')
    assert cfg.teacher.model_name == 'tresnet_v2_l'


def test_training_without_teacher_weights_is_refused():
    model = build(DISTILLED[0], teacher=TINY_TEACHER)
    with pytest.raises(ValueError) as error:
        model.init_weights()  # what the Runner calls when training starts
    message = str(error.value)
    assert 'model.teacher_ckpt' in message
    assert 'tresnet_l_v2_83_9.pth' in message and '83.9' in message


def test_teacher_input_is_resized_as_torchvision_without_antialias():
    """loss/cls_loss.py:95: ``F_tv.resize(inputs, 224, BICUBIC)`` on a
    float tensor, which torchvision 0.16 did without antialiasing."""
    import torchvision.transforms.functional as F_tv
    model = build(DISTILLED[0], teacher=TINY_TEACHER).eval()
    seen = []
    model.teacher.register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    images = torch.rand(2, 3, 192, 192) * 255
    preprocessor = model.data_preprocessor
    with torch.no_grad():
        model.teacher_logits((images - preprocessor.mean) / preprocessor.std)
    expected = F_tv.resize(
        images / 255.,
        224,
        interpolation=F_tv.InterpolationMode.BICUBIC,
        antialias=False)
    torch.testing.assert_close(seen[0], expected, atol=1e-5, rtol=1e-5)


def test_official_teacher_checkpoint_loads_and_gives_official_logits(tmp_path):
    """The official TResNet-L-v2 state dict (InplaceABN layout,
    model/lib_teacher/tresnet_v2.py) loads strictly into the teacher the
    configs build, and gives the official code's logits (recorded by
    tests/data/official/record.py)."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    teacher = MODELS.build(load(DISTILLED[0]).model.teacher).eval()
    listing = teacher_weights.read_listing(
        osp.join(OFFICIAL, 'tresnet_l_v2_keys.tsv'))
    official = teacher_weights.make_teacher_state_dict(listing)
    assert 'body.conv1.0.weight' in official  # not the timm layout
    path = tmp_path / 'tresnet_l_v2_83_9.pth'
    torch.save(dict(model=official), path)
    load_teacher_checkpoint(teacher, str(path))
    expected = torch.load(
        osp.join(OFFICIAL, 'tresnet_l_v2_logits.pt'),
        weights_only=True)['logits']
    with torch.no_grad():
        logits = teacher(teacher_weights.teacher_input(), mode='tensor')
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_mismatched_teacher_checkpoint_loads_nothing(tmp_path):
    model = build(DISTILLED[0], teacher=TINY_TEACHER)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    state = {
        k: torch.randn_like(v.float())
        for k, v in model.teacher.state_dict().items()
    }
    state.pop('head.fc.bias')
    torch.save(dict(state_dict=state), tmp_path / 'teacher.pth')
    model.teacher_ckpt = str(tmp_path / 'teacher.pth')
    with pytest.raises(ValueError, match='head.fc.bias'):
        model.init_weights()
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key

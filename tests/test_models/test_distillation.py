"""The distilled (†) recipe: soft KD from a frozen teacher."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from tiny_arch import TINY

from mmmobilemamba.models import SoftDistillationLoss

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEACHER = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(type='mmmobilemamba.MobileMamba', arch=TINY),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=80))


def build_student(**overrides):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'mobilemamba',
                 'mobilemamba-t2-distill_8xb128_in1k.py'))
    cfg.merge_from_dict(
        dict(
            model=dict(
                teacher=copy.deepcopy(TEACHER),
                teacher_size=96,
                head=dict(num_classes=10),
                data_preprocessor=dict(
                    cfg.data_preprocessor, num_classes=10, **overrides))))
    return MODELS.build(cfg.model)


def batch(model, n=4, size=64):
    samples = [DataSample().set_gt_label(i % 10) for i in range(n)]
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
            for _ in range(n)
        ],
        data_samples=samples)
    return model.data_preprocessor(data, training=True)


def test_soft_distillation_loss():
    student, teacher = torch.randn(3, 5), torch.randn(3, 5)
    loss = SoftDistillationLoss(tau=2.0, loss_weight=0.5)(student, teacher)
    p_t = F.softmax(teacher / 2, dim=1)
    expected = 0.5 * 4 * (
        p_t * (p_t.log() - F.log_softmax(student / 2, dim=1))).sum() / 3
    torch.testing.assert_close(loss, expected)
    assert SoftDistillationLoss()(student, student).abs() < 1e-6
    with pytest.raises(ValueError, match='same classes'):
        SoftDistillationLoss()(student, torch.randn(3, 6))


def save_teacher(model, path):
    """A checkpoint of freshly initialised teacher weights; returns its path
    and state dict."""
    model.teacher.init_weights()
    state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    torch.save(dict(state_dict=state), path)
    return str(path), state


def test_training_step_distils_into_the_student_only(tmp_path):
    model = build_student()
    model.teacher_ckpt, _ = save_teacher(model, tmp_path / 'teacher.pth')
    model.init_weights()
    model.train()
    assert not model.teacher.training
    data = batch(model)
    # Mixup/CutMix made the labels soft.
    assert 'gt_score' in data['data_samples'][0]
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_distill'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    student = [
        p for n, p in model.named_parameters() if not n.startswith('teacher.')
    ]
    assert all(p.grad is not None for p in student)


def test_teacher_input_is_renormalised_and_resized():
    model = build_student().eval()
    images = torch.rand(2, 3, 64, 64) * 255
    normalised = (images - model.data_preprocessor.mean) / \
        model.data_preprocessor.std
    expected = F.interpolate(
        images / 255., size=(96, 96), mode='bicubic', antialias=False)
    with torch.no_grad():
        torch.testing.assert_close(
            model.teacher_logits(normalised),
            model.teacher(expected, mode='tensor'),
            atol=1e-4,
            rtol=1e-4)


def test_checkpoints_hold_the_student_only(tmp_path):
    model = build_student().double()
    assert next(model.teacher.parameters()).dtype == torch.float64
    model = model.float()
    state = model.state_dict()
    assert state and not any(k.startswith('teacher.') for k in state)
    # A student-only checkpoint loads strictly into the distillation model.
    model.load_state_dict(state, strict=True)

    teacher_ckpt, teacher_state = save_teacher(model, tmp_path / 'teacher.pth')
    other = build_student()
    other.teacher_ckpt = teacher_ckpt
    other.init_weights()
    for key, value in other.teacher.state_dict().items():
        torch.testing.assert_close(value, teacher_state[key])

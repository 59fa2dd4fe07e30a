"""The mmpretrain head and classifier."""
import os.path as osp

import pytest
import torch
from mmpretrain import get_model
from mmpretrain.structures import DataSample

from mmmobilemamba.models import MobileMambaClsHead

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def samples(labels):
    return [DataSample().set_gt_label(label) for label in labels]


def trained_head(**kwargs):
    """A head whose BatchNorm has non-trivial running statistics."""
    head = MobileMambaClsHead(num_classes=5, in_channels=8, **kwargs)
    head.init_weights()
    head.train()
    with torch.no_grad():
        for _ in range(3):
            head.norm(torch.randn(16, 8) * 3 + 1)
    return head.eval()


@pytest.mark.parametrize('distillation', [False, True])
def test_switch_to_deploy(distillation):
    head = trained_head(distillation=distillation)
    feats = (torch.randn(4, 8), )
    with torch.no_grad():
        ref = head(feats)
        head.switch_to_deploy()
        fused = head(feats)
    torch.testing.assert_close(fused, ref, atol=1e-5, rtol=1e-5)
    deployed = MobileMambaClsHead(
        num_classes=5, in_channels=8, distillation=distillation,
        deploy=True).eval()
    deployed.load_state_dict(head.state_dict())
    torch.testing.assert_close(deployed(feats), fused, atol=0, rtol=0)


def test_distillation_head_trains_both_branches():
    head = MobileMambaClsHead(
        num_classes=5, in_channels=8, distillation=True).train()
    feats = (torch.randn(4, 8, requires_grad=True), )
    outputs = head(feats)
    assert isinstance(outputs, tuple) and len(outputs) == 2
    losses = head.loss(feats, samples([0, 1, 2, 3]))
    single = [
        head._get_loss(o, samples([0, 1, 2, 3]))['loss'] for o in head(feats)
    ]
    torch.testing.assert_close(losses['loss'], sum(single) / 2)
    losses['loss'].backward()
    assert head.fc_dist.weight.grad is not None
    assert head.fc.weight.grad is not None


def test_classifier_training_step():
    model = get_model(
        osp.join(REPO, 'configs', 'mobilemamba',
                 'mobilemamba-t2_8xb128_in1k.py'),
        head=dict(num_classes=3))
    model.train()
    inputs = torch.randn(2, 3, 64, 64)
    losses = model(inputs, samples([0, 2]), mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples([0, 2]), mode='predict')
    assert preds[0].pred_score.shape == (3, )

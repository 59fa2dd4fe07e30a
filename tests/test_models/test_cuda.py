"""The pure-PyTorch path on a GPU reproduces the official outputs.

Skipped where no CUDA device is present (as in CI).
"""
import os.path as osp

import pytest
import torch

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import convert_official_state_dict

pytestmark = [
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason='needs a CUDA device'),
    pytest.mark.usefixtures('no_tf32')
]

CASES = [('t2', 't2_cls.tsv', 't2'), ('s6', 's6_cls.tsv', 's6'),
         ('b4', 'b4_cls.tsv', 'b4'), ('b4', 'b4_seg_backbone.tsv', 'b4_seg')]


@pytest.mark.parametrize('arch,tsv,name', CASES)
def test_backbone_matches_official_on_cuda(arch, tsv, name, fixtures_dir,
                                           fixture_file, make_weights):
    official = make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', tsv), seed=0)
    state = {
        k[len('backbone.'):]: v
        for k, v in convert_official_state_dict(official).items()
        if k.startswith('backbone.')
    }
    model = MobileMamba(arch, out_indices=(1, 2, 3))
    model.load_state_dict(state)
    model = model.cuda().eval()
    inputs = fixture_file(name, 'input.pt')['input'].cuda()
    expected = fixture_file(name, 'expected.pt')
    if name.endswith('_seg'):
        keys = ('out0', 'out1', 'out2')
    else:
        keys = ('stage1', 'stage2', 'stage3')
    with torch.no_grad():
        outs = model(inputs)
        model.switch_to_deploy()
        fused = model(inputs)
    for key, out, out_fused in zip(keys, outs, fused):
        torch.testing.assert_close(
            out.cpu(), expected[key], atol=1e-4, rtol=1e-4, msg=key)
        torch.testing.assert_close(
            out_fused.cpu(), expected[key], atol=1e-4, rtol=1e-4, msg=key)


def test_training_step_on_cuda():
    model = MobileMamba('t2', out_indices=(1, 2, 3)).cuda().train()
    outs = model(torch.randn(4, 3, 192, 160, device='cuda'))
    sum(o.float().mean() for o in outs).backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all()
        for p in model.parameters())

"""Options that used to change the model without a word: ``with_cp``
training, ``switch_to_deploy()`` with norms other than BN, out-of-range
config values and input or weight dtypes the model cannot run."""
import copy
import os.path as osp
import sys

import pytest
import torch
import torch.nn as nn

from mmmobilemamba.models import MobileMamba

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_models'))
from tiny_arch import TINY  # noqa: E402


def _sgd_steps(model, batches):
    """Three SGD steps on ``batches``; the same drop-path draws each run."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for step, x in enumerate(batches):
        torch.manual_seed(step)
        optimizer.zero_grad()
        sum(out.square().mean() for out in model(x)).backward()
        optimizer.step()


@pytest.mark.parametrize('norm', ['BN', 'SyncBN'])
def test_with_cp_trains_exactly_as_without(norm):
    """Checkpointing recomputes each block in backward; the recomputation
    must not update the BN running statistics a second time."""
    torch.manual_seed(0)
    kwargs = dict(out_indices=(1, 2, 3), norm_cfg=dict(type=norm))
    plain = MobileMamba(TINY, **kwargs)
    with_cp = MobileMamba(TINY, with_cp=True, **kwargs)
    with_cp.load_state_dict(plain.state_dict())
    batches = [torch.randn(2, 3, 64, 64) for _ in range(3)]
    _sgd_steps(plain, batches)
    _sgd_steps(with_cp, batches)
    for (name, p), p_cp in zip(plain.named_parameters(), with_cp.parameters()):
        assert torch.equal(p.grad, p_cp.grad), name
    expected = plain.state_dict()
    for name, value in with_cp.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert plain.patch_embed[0].bn.num_batches_tracked == 3
    assert with_cp.stages[0].blocks[0].dw0.bn.num_batches_tracked == 3


@pytest.mark.parametrize('norm_cfg, norm_type', [
    (dict(type='GN', num_groups=1), nn.GroupNorm),
    (dict(type='IN', affine=True), nn.InstanceNorm2d),
])
def test_switch_to_deploy_keeps_norms_it_cannot_fuse(norm_cfg, norm_type):
    """GN/IN cannot be folded into a conv: they stay, outputs are unchanged
    and the ``deploy=True`` form has the same layout."""
    torch.manual_seed(0)
    model = MobileMamba(TINY, out_indices=(1, 2, 3), norm_cfg=norm_cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, norm_type):  # non-trivial affine parameters
                m.weight.normal_(1, 0.2)
                m.bias.normal_(0, 0.2)
    model.eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        ref = model(x)
        norms = sum(isinstance(m, norm_type) for m in model.modules())
        model.switch_to_deploy()
        fused = model(x)
    assert norms and sum(isinstance(m, norm_type)
                         for m in model.modules()) == norms
    for r, f in zip(ref, fused):
        torch.testing.assert_close(f, r, atol=1e-5, rtol=1e-5)
    deployed = MobileMamba(
        TINY, out_indices=(1, 2, 3), norm_cfg=norm_cfg, deploy=True).eval()
    deployed.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        for f, d in zip(fused, deployed(x)):
            assert torch.equal(d, f)


@pytest.mark.parametrize('rate', [-0.1, 1.0, 1.5, float('nan'), '0.1'])
def test_drop_path_rate_outside_0_1_is_refused(rate):
    with pytest.raises((ValueError, TypeError), match='drop_path_rate'):
        MobileMamba(TINY, drop_path_rate=rate)
    with pytest.raises((ValueError, TypeError), match='drop_path_rate'):
        MobileMamba(dict(TINY, drop_path_rate=rate))


@pytest.mark.parametrize('bad', ['3', '123', (1, '2'), (1.0, ), (True, )])
def test_out_indices_not_ints_are_refused(bad):
    with pytest.raises(TypeError, match='out_indices'):
        MobileMamba(TINY, out_indices=bad)


@pytest.mark.parametrize('bad', [(3, 3), (1, -1, 3), (0, 1, -4)])
def test_duplicate_out_indices_are_refused(bad):
    with pytest.raises(ValueError, match='out_indices.*twice'):
        MobileMamba(TINY, out_indices=bad)


@pytest.mark.parametrize('dtype', [torch.uint8, torch.int64, torch.bool])
def test_integer_and_bool_images_say_to_normalise(dtype):
    model = MobileMamba(TINY).eval()
    x = torch.randint(0, 2, (1, 3, 64, 64)).to(dtype)
    with pytest.raises(TypeError, match='normalise'):
        model(x)


@pytest.mark.parametrize('weights, inputs', [
    (torch.float16, torch.float16),
    (torch.bfloat16, torch.bfloat16),
    (torch.float16, torch.float32),
    (torch.float32, torch.float16),
])
def test_half_precision_on_cpu_says_to_use_autocast(weights, inputs):
    """Outside autocast a message says what to do; under CPU autocast (bf16
    and fp16) a float32 model keeps working."""
    torch.manual_seed(0)
    model = MobileMamba(TINY).eval()
    x = torch.randn(1, 3, 64, 64)
    half = copy.deepcopy(model).to(weights)
    with pytest.raises(TypeError, match='autocast'), torch.no_grad():
        half(x.to(inputs))
    half_dtype = weights if inputs == torch.float32 else inputs
    with torch.no_grad(), torch.autocast('cpu', dtype=half_dtype):
        out = model(x)[0]
    assert out.dtype == half_dtype and out.isfinite().all()

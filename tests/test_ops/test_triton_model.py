"""Whole MobileMamba models on the Triton backend against the PyTorch one.

Fixture weights, every variant; plus training gradients, autocast, CUDA-graph
capture and ``torch.compile``. Skipped where no CUDA device is present.
"""
import os.path as osp

import pytest
import torch
from mmpretrain import get_model

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import convert_official_state_dict
from mmmobilemamba.ops import use_backend

pytestmark = [
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason='needs a CUDA device'),
    pytest.mark.usefixtures('no_tf32')
]
pytest.importorskip('mmmobilemamba.ops.triton.bidi_selective_scan')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VARIANTS = ['t2', 't4', 's6', 'b1', 'b2', 'b4']
SMALL = dict(
    embed_dims=[48, 64, 80],
    depths=[1, 1, 1],
    kernel_sizes=[7, 5, 3],
    global_ratios=[0.8, 0.7, 0.6],
    local_ratios=[0.2, 0.2, 0.3],
    ssm_ratio=2.0,
    drop_path_rate=0.)


def max_relative_error(out, ref):
    return ((out - ref).abs().max() / ref.abs().max()).item()


def norm_relative_error(out, ref):
    return ((out.double() - ref.double()).norm() / ref.double().norm()).item()


def assert_gradients_close(grads, ref_grads):
    """Every gradient agrees norm-wise, measured against the largest.

    Gradients that are zero in exact arithmetic (e.g. of a BN bias feeding
    another train-mode BN) are float32 rounding noise on both paths, so each
    error is taken relative to ``max(own norm, 1e-2 * largest norm)``; a
    wrong formula is off by O(1).
    """
    largest = max(g.double().norm() for g in ref_grads.values())
    worst, worst_error = None, 0.
    for name, ref in ref_grads.items():
        error = ((grads[name].double() - ref.double()).norm() /
                 max(ref.double().norm(), 1e-2 * largest)).item()
        if error >= worst_error:
            worst, worst_error = name, error
    print(f'worst gradient: {worst} {worst_error:.1e}')
    assert worst_error < 1e-3, worst


def classifier(arch, fixtures_dir, make_weights):
    model = get_model(
        osp.join(REPO, 'configs', 'mobilemamba',
                 f'mobilemamba-{arch}_8xb128_in1k.py'))
    official = make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', f'{arch}_cls.tsv'), seed=0)
    model.load_state_dict(convert_official_state_dict(official))
    return model.cuda().eval()


@pytest.mark.parametrize('arch', VARIANTS)
def test_logits_match_torch_backend(arch, fixtures_dir, make_weights,
                                    fixture_file):
    model = classifier(arch, fixtures_dir, make_weights)
    inputs = fixture_file(arch, 'input.pt')['input'].cuda()
    expected = fixture_file(arch, 'expected.pt')
    for key in ('logits', 'logits_fused'):
        if key == 'logits_fused':
            model.switch_to_deploy()
        with torch.no_grad():
            with use_backend('torch'):
                ref = model(inputs, mode='tensor')
            with use_backend('triton'):
                fast = model(inputs, mode='tensor')
        error = max_relative_error(fast, ref)
        print(f'{arch} {key}: max |triton - torch| / max |torch| = '
              f'{error:.2e}')
        assert error <= 1e-5, key
        torch.testing.assert_close(
            fast.cpu(), expected[key], atol=1e-4, rtol=1e-4, msg=key)


def test_training_gradients_match_torch_backend():
    torch.manual_seed(0)
    model = MobileMamba(SMALL, out_indices=(1, 2, 3)).cuda().train()
    for param in model.parameters():  # no zero-initialised branches
        param.data.add_(torch.randn_like(param) * 0.05)
    inputs = torch.randn(3, 3, 150, 118, device='cuda')
    grads = {}
    for backend in ('torch', 'triton'):
        model.zero_grad()
        with use_backend(backend):
            outs = model(inputs)
        sum((o * o).mean() for o in outs).backward()
        grads[backend] = {
            name: p.grad.clone()
            for name, p in model.named_parameters()
        }
    assert_gradients_close(grads['triton'], grads['torch'])


def test_autocast_bf16_training_step():
    torch.manual_seed(0)
    model = MobileMamba(SMALL, out_indices=(3, )).cuda().train()
    inputs = torch.randn(4, 3, 128, 128, device='cuda')
    with use_backend('triton'):
        exact = model(inputs)[0]
        with torch.autocast('cuda', dtype=torch.bfloat16):
            mixed = model(inputs)[0]
        mixed.float().square().mean().backward()
    assert norm_relative_error(mixed, exact) < 1e-1
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all()
        for p in model.parameters() if p.requires_grad)


def test_cuda_graph_replay_matches_eager():
    torch.manual_seed(0)
    model = MobileMamba(SMALL).cuda().eval()
    model.switch_to_deploy()
    static = torch.randn(2, 3, 96, 96, device='cuda')
    with use_backend('triton'), torch.no_grad():
        eager = model(static)[0]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            model(static)  # warm-up off the default stream
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            captured = model(static)[0]
        static.copy_(torch.randn_like(static))
        graph.replay()
        fresh = model(static)[0]
    assert not torch.equal(captured, eager)
    torch.testing.assert_close(captured, fresh, atol=1e-6, rtol=1e-6)


def test_torch_compile_matches_eager():
    torch.manual_seed(0)
    model = MobileMamba(SMALL).cuda().train()
    inputs = torch.randn(2, 3, 96, 80, device='cuda')
    with use_backend('triton'):
        eager = model(inputs)[0]
        eager.square().mean().backward()
        eager_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        model.zero_grad()
        compiled = torch.compile(model)(inputs)[0]
        compiled.square().mean().backward()
    assert norm_relative_error(compiled, eager) < 1e-5
    assert_gradients_close({
        n: p.grad
        for n, p in model.named_parameters()
    }, eager_grads)

"""bidi_selective_scan against the float64 per-direction reference.

The op runs its selective scan in float32 (float64 for float64 inputs):
float32 results are compared at float32 tolerances, float64 ones tightly.
"""
import pytest
import torch
from op_reference import bidi_selective_scan_ref

from mmmobilemamba.ops import bidi_selective_scan, use_backend
from mmmobilemamba.ops.c_kernels.library import available as c_available

NAMES = ('x', 'x_proj_weight', 'dt_projs_weight', 'dt_projs_bias', 'A_logs',
         'Ds')


def make_inputs(batch=2,
                channels=4,
                rank=2,
                height=3,
                width=5,
                seed=0,
                dtype=torch.float32):
    """Random map and SS2D scan parameters of sane magnitude."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

    inputs = dict(
        x=randn(batch, channels, height, width),
        x_proj_weight=randn(2, rank + 2, channels, std=channels**-0.5),
        dt_projs_weight=randn(2, channels, rank, std=rank**-0.5),
        dt_projs_bias=randn(2, channels, std=0.5) - 1,
        A_logs=randn(2 * channels, 1, std=0.5),
        Ds=randn(2 * channels))
    return {k: v.to(dtype) for k, v in inputs.items()}


#: How the op runs: recorded by autograd (the out-of-place graph), or for
#: inference by backend 'torch' (in place) or 'c' (the C kernel).
MODES = [
    'autograd', 'torch',
    pytest.param(
        'c',
        marks=pytest.mark.skipif(
            not c_available(), reason='the C kernels do not build here'))
]


def run_op(inputs, mode):
    if mode == 'autograd':
        inputs = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        return bidi_selective_scan(**inputs).detach()
    with torch.no_grad(), use_backend(mode, 'bidi_selective_scan'):
        return bidi_selective_scan(**inputs)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('height,width', [(3, 5), (5, 3), (1, 1), (9, 9),
                                          (10, 13)])
def test_matches_reference(height, width, channels_last, mode):
    """Batch-2 non-square maps, short and chunked (81 = 9 x 9 and a padded
    130) sequences, either memory format, every way the op runs: op
    (float32) equals the float64 reference."""
    inputs = make_inputs(height=height, width=width, seed=height)
    if channels_last:
        inputs['x'] = inputs['x'].contiguous(memory_format=torch.channels_last)
    out = run_op(inputs, mode)
    assert out.shape == (2, 4, height * width)
    assert out.dtype == torch.float32
    ref = bidi_selective_scan_ref(**inputs)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def test_directions_use_their_own_parameters():
    """Swapping the two directions' projections changes the output (so the
    reference comparison above is sensitive to the direction order)."""
    inputs = make_inputs(seed=4)
    swapped = dict(
        inputs,
        x_proj_weight=inputs['x_proj_weight'].flip(0),
        dt_projs_weight=inputs['dt_projs_weight'].flip(0))
    assert not torch.allclose(
        bidi_selective_scan(**swapped),
        bidi_selective_scan(**inputs),
        atol=1e-3)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('height,width', [(3, 5), (10, 13)])
def test_float64_inputs(height, width, mode):
    """float64 inputs are computed in float64 (the C kernel hands them to
    the PyTorch path)."""
    inputs = make_inputs(
        height=height, width=width, seed=5, dtype=torch.float64)
    out = run_op(inputs, mode)
    assert out.dtype == torch.float64
    torch.testing.assert_close(
        out, bidi_selective_scan_ref(**inputs), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize('mode', MODES)
def test_strong_decay_stays_finite(mode):
    """A padded, chunked scan whose chunks decay far below the smallest
    float32 number gives the reference's result (no inf/nan from the
    carried states)."""
    inputs = make_inputs(height=10, width=13, seed=9)
    inputs['dt_projs_bias'] = inputs['dt_projs_bias'] + 40
    out = run_op(inputs, mode)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(
        out.double(), bidi_selective_scan_ref(**inputs), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize('mode', MODES[1:])
def test_inference_leaves_inputs_unchanged(mode):
    """The inference paths write only to their own buffers."""
    inputs = make_inputs(height=10, width=13, seed=10)
    inputs['x'] = inputs['x'].contiguous(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in inputs.items()}
    run_op(inputs, mode)
    for key, value in inputs.items():
        assert torch.equal(value, before[key]), key


def test_batch_items_are_independent():
    """Batch-2 output equals the per-sample batch-1 outputs."""
    inputs = make_inputs(seed=6)
    out = bidi_selective_scan(**inputs)
    for b in range(2):
        single = dict(inputs, x=inputs['x'][b:b + 1])
        torch.testing.assert_close(
            bidi_selective_scan(**single)[0], out[b], atol=1e-6, rtol=1e-6)


def test_gradients_match_reference():
    """Autograd gradients w.r.t. x and every parameter equal the
    reference's."""
    inputs = make_inputs(seed=7, dtype=torch.float64)
    upstream = torch.randn(
        2,
        4,
        15,
        generator=torch.Generator().manual_seed(8),
        dtype=torch.float64)

    def grads(fn):
        leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        (fn(**leaves).double() * upstream).sum().backward()
        return {k: v.grad for k, v in leaves.items()}

    got = grads(bidi_selective_scan)
    expected = grads(bidi_selective_scan_ref)
    for name in NAMES:
        assert got[name] is not None, name
        torch.testing.assert_close(
            got[name], expected[name], atol=1e-10, rtol=1e-10, msg=name)

"""The Triton bidi_selective_scan against the PyTorch reference on CUDA.

Forward and every gradient are compared with the ``torch`` backend run in
float64; skipped where no CUDA device is present (as in CI).
"""
import pytest
import torch

from mmmobilemamba.ops import bidi_selective_scan, use_backend

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')
triton_scan = pytest.importorskip('mmmobilemamba.ops.triton.'
                                  'bidi_selective_scan')

# (batch, channels Di, rank R, H, W): odd sizes, L not a power of two, a
# single step, and a map longer than one chunk (37 * 31 > MAX_CHUNK).
SHAPES = [(2, 8, 3, 5, 7), (3, 37, 5, 12, 12), (1, 16, 2, 1, 1),
          (2, 24, 9, 9, 14), (1, 12, 4, 37, 31)]


def relative_error(out, ref):
    """Norm-wise; 0 when both are exactly 0 (``A_logs`` at L = 1)."""
    return ((out.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def make_inputs(batch, channels, rank, height, width, seed):
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std +
                mean).cuda()

    return [
        randn(batch, channels, height, width),
        randn(2, rank + 2, channels, std=channels**-0.5),
        randn(2, channels, rank, std=rank**-0.5),
        randn(2, channels, std=1.0, mean=-2.0),
        randn(2 * channels, 1, std=0.5),
        randn(2 * channels)
    ]


def run(inputs, backend, dtype, grad_out):
    leaves = [t.detach().to(dtype).requires_grad_() for t in inputs]
    with use_backend(backend, 'bidi_selective_scan'):
        out = bidi_selective_scan(*leaves)
    grads = torch.autograd.grad(
        out, leaves, grad_out.to(out.dtype), allow_unused=True)
    # With a single step the state decay (A_logs) has no effect.
    return out, [
        torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)
    ]


@pytest.mark.parametrize('shape', SHAPES)
def test_float32_forward_and_gradients(shape):
    batch, channels, _, height, width = shape
    inputs = make_inputs(*shape, seed=sum(shape))
    grad_out = torch.randn(
        batch, channels, height * width, dtype=torch.float64, device='cuda')
    ref, ref_grads = run(inputs, 'torch', torch.float64, grad_out)
    out, grads = run(inputs, 'triton', torch.float32, grad_out)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert relative_error(out, ref) < 1e-5
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-4)
    for name, grad, ref_grad in zip(
        ('x', 'x_proj', 'dt_proj', 'dt_bias', 'A_logs', 'Ds'), grads,
            ref_grads):
        assert grad.dtype == torch.float32, name
        if name == 'A_logs' and height * width == 1:
            # One step never decays the state: 0, up to float32 rounding.
            assert grad.abs().max() < 1e-6
            continue
        assert relative_error(grad, ref_grad) < 1e-5, name


def test_several_chunks_carry_the_state(monkeypatch):
    """Chunks of 16 steps: the carried state makes them one scan."""
    monkeypatch.setattr(triton_scan, 'MAX_CHUNK', 16)
    inputs = make_inputs(2, 10, 3, 7, 9, seed=1)
    grad_out = torch.randn(2, 10, 63, dtype=torch.float64, device='cuda')
    ref, ref_grads = run(inputs, 'torch', torch.float64, grad_out)
    out, grads = run(inputs, 'triton', torch.float32, grad_out)
    assert relative_error(out, ref) < 1e-5
    for grad, ref_grad in zip(grads, ref_grads):
        assert relative_error(grad, ref_grad) < 1e-5


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_inputs(dtype):
    """Half inputs, float32 output and accumulation: loose agreement with the
    float64 reference on the same (rounded) inputs."""
    inputs = [t.to(dtype).double() for t in make_inputs(2, 24, 3, 9, 11, 3)]
    grad_out = torch.randn(2, 24, 99, dtype=torch.float64, device='cuda')
    ref, ref_grads = run(inputs, 'torch', torch.float64, grad_out)
    out, grads = run(inputs, 'triton', dtype, grad_out)
    assert out.dtype == torch.float32
    assert relative_error(out, ref) < 2e-2
    for grad, ref_grad in zip(grads, ref_grads):
        assert grad.dtype == dtype
        assert relative_error(grad, ref_grad) < 5e-2


def test_autocast_matches_float32():
    inputs = [t.float() for t in make_inputs(4, 32, 4, 8, 8, seed=5)]
    with use_backend('triton', 'bidi_selective_scan'):
        exact = bidi_selective_scan(*inputs)
        with torch.autocast('cuda', dtype=torch.bfloat16):
            mixed = bidi_selective_scan(inputs[0].bfloat16(), *inputs[1:])
    assert mixed.dtype == torch.float32
    assert relative_error(mixed, exact.double()) < 2e-2


def test_float64_uses_the_reference():
    inputs = make_inputs(1, 4, 2, 3, 3, seed=7)
    with use_backend('triton', 'bidi_selective_scan'):
        out = bidi_selective_scan(*inputs)
    with use_backend('torch', 'bidi_selective_scan'):
        ref = bidi_selective_scan(*inputs)
    assert out.dtype == torch.float64 and torch.equal(out, ref)

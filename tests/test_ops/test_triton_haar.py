"""The Triton haar_dwt / haar_idwt / wavelet_conv against the PyTorch
reference on CUDA (forward and gradients); skipped without CUDA."""
import pytest
import torch

from mmmobilemamba.ops import (haar_dwt, haar_filter_bank, haar_idwt,
                               use_backend, wavelet_conv)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')
pytest.importorskip('mmmobilemamba.ops.triton.haar')

SIZES = [(4, 6), (7, 10), (5, 5), (6, 3), (1, 1), (33, 17)]


@pytest.fixture(autouse=True)
def no_tf32():
    """The wavelet conv backward runs cuDNN convs: compare them in full
    float32."""
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = saved


def relative_error(out, ref):
    return ((out.double() - ref).norm() / ref.norm()).item()


def randn(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64).cuda()


def run(op, backend, dtype, tensors, grad_out, *args):
    leaves = [t.detach().to(dtype).requires_grad_() for t in tensors]
    with use_backend(backend):
        out = op(*leaves[:1], *args, *leaves[1:])
    grads = torch.autograd.grad(out, leaves, grad_out.to(out.dtype))
    return out, grads


def bank(channels, dtype=torch.float32):
    return haar_filter_bank(channels).cuda().to(dtype)


@pytest.mark.parametrize('height,width', SIZES)
def test_dwt(height, width):
    x = randn(3, 5, height, width, seed=height * width)
    grad = randn(3, 5, 4, (height + 1) // 2, (width + 1) // 2, seed=1)
    ref, (ref_grad, ) = run(haar_dwt, 'torch', torch.float64, [x], grad,
                            bank(5, torch.float64))
    out, (out_grad, ) = run(haar_dwt, 'triton', torch.float32, [x], grad,
                            bank(5))
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert relative_error(out, ref) < 1e-6
    assert relative_error(out_grad, ref_grad) < 1e-6


@pytest.mark.parametrize('height,width', SIZES)
@pytest.mark.parametrize('crop', [False, True])
def test_idwt(height, width, crop):
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    size = (height, width) if crop else None
    coeffs = randn(2, 3, 4, h2, w2, seed=height + width)
    out_shape = (height, width) if crop else (2 * h2, 2 * w2)
    grad = randn(2, 3, *out_shape, seed=2)

    def idwt(coeffs, filters):
        return haar_idwt(coeffs, filters, size)

    ref, (ref_grad, ) = run(idwt, 'torch', torch.float64, [coeffs], grad,
                            bank(3, torch.float64))
    out, (out_grad, ) = run(idwt, 'triton', torch.float32, [coeffs], grad,
                            bank(3))
    assert out.shape == ref.shape == (2, 3, *out_shape)
    assert relative_error(out, ref) < 1e-6
    assert relative_error(out_grad, ref_grad) < 1e-6


@pytest.mark.parametrize('kernel', [3, 5, 7])
@pytest.mark.parametrize('height,width', [(12, 12), (7, 10), (5, 3), (1, 1)])
def test_wavelet_conv(kernel, height, width):
    channels = 6
    x = randn(2, channels, height, width, seed=kernel)
    weight = randn(4 * channels, 1, kernel, kernel, seed=3) * 0.3
    scale = randn(1, 4 * channels, 1, 1, seed=4).abs() + 0.1
    grad = randn(2, channels, height, width, seed=5)

    ref, ref_grads = run(wavelet_conv, 'torch',
                         torch.float64, [x, weight, scale], grad,
                         bank(channels, torch.float64),
                         bank(channels, torch.float64))
    out, grads = run(wavelet_conv, 'triton', torch.float32, [x, weight, scale],
                     grad, bank(channels), bank(channels))
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert relative_error(out, ref) < 1e-5
    for name, got, want in zip(('x', 'weight', 'scale'), grads, ref_grads):
        assert relative_error(got, want) < 1e-5, name


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_inputs(dtype):
    """Half inputs (as under autocast): float32 arithmetic, so the result is
    close to the float64 reference on the same rounded inputs."""
    channels = 8
    x = randn(2, channels, 9, 12, seed=6).to(dtype).double()
    filters = bank(channels)
    with use_backend('triton', 'haar_dwt'):
        coeffs = haar_dwt(x.to(dtype), filters)
    with use_backend('torch', 'haar_dwt'):
        ref = haar_dwt(x, filters.double())
    assert coeffs.dtype == dtype
    assert relative_error(coeffs, ref) < 1e-2
    weight = randn(4 * channels, 1, 5, 5, seed=7) * 0.3
    scale = torch.full((1, 4 * channels, 1, 1), 0.1, device='cuda')
    with use_backend('triton', 'wavelet_conv'):
        out = wavelet_conv(
            x.to(dtype), filters, filters, weight.float(), scale)
    with use_backend('torch', 'wavelet_conv'):
        ref = wavelet_conv(x, filters.double(), filters.double(), weight,
                           scale.double())
    assert out.dtype == torch.float32  # promoted with the float32 scale
    assert relative_error(out, ref) < 1e-5


def test_bank_with_gradients_uses_the_reference():
    """The kernels give no gradient to the filter bank, so a bank that needs
    one is handled by the reference."""
    x = randn(1, 2, 4, 4).float()
    filters = bank(2).requires_grad_()
    with use_backend('triton', 'haar_dwt'):
        haar_dwt(x, filters).sum().backward()
    assert filters.grad is not None and filters.grad.abs().sum() > 0


def test_bad_bank_is_refused():
    with use_backend('triton', 'haar_dwt'):
        with pytest.raises(ValueError, match='filter bank'):
            haar_dwt(randn(1, 2, 4, 4).float(), bank(3))

"""Haar transform and wavelet_conv against PyWavelets, explicit loops and
the official fixtures (SPEC sections 8 and 10)."""
import functools

import numpy as np
import pytest
import torch
from op_reference import (HAAR_A2, bank_dwt_ref, bank_idwt_ref, haar_dwt_ref,
                          haar_idwt_ref, wavelet_conv_ref)

from mmmobilemamba.ops import (haar_dwt, haar_filter_bank, haar_idwt,
                               wavelet_conv)

SIZES = [(4, 6), (7, 10), (5, 5), (6, 3), (1, 1)]


def randn(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def test_filter_bank_values(ops_fixture):
    """haar_filter_bank(3) is the official float32 bank, bit for bit, with
    the SPEC sign patterns scaled by float32(sqrt(0.5))**2 = 0.49999997."""
    bank = haar_filter_bank(3)
    assert bank.dtype == torch.float32
    assert bank.shape == (12, 1, 2, 2)
    assert torch.equal(bank, ops_fixture['haar.wt_filter'])
    assert torch.equal(bank, ops_fixture['haar.iwt_filter'])
    a2 = np.float32(np.sqrt(0.5)) * np.float32(np.sqrt(0.5))
    assert a2 == np.float32(0.49999997) and a2 != np.float32(0.5)
    assert torch.all(bank.abs() == torch.tensor(a2))
    signs = torch.tensor([[[1, 1], [1, 1]], [[1, 1], [-1, -1]],
                          [[1, -1], [1, -1]], [[1, -1], [-1, 1]]],
                         dtype=torch.float32)
    assert torch.equal(bank[:, 0], signs.repeat(3, 1, 1) * torch.tensor(a2))


@pytest.mark.parametrize('height,width', SIZES)
def test_dwt_matches_pywt(height, width):
    """Analysis in float64 equals pywt.dwt2('db1') of the zero-padded map:
    exactly with the package constant, and within 1e-7 relative of plain
    PyWavelets."""
    x = randn(2, 3, height, width)
    out = haar_dwt(x, haar_filter_bank(3))
    assert out.dtype == torch.float64
    assert out.shape == (2, 3, 4, (height + 1) // 2, (width + 1) // 2)
    torch.testing.assert_close(out, haar_dwt_ref(x), atol=1e-14, rtol=1e-13)
    torch.testing.assert_close(
        out, haar_dwt_ref(x, scale=1.0), atol=1e-14, rtol=2e-7)


@pytest.mark.parametrize('height,width', SIZES)
def test_idwt_matches_pywt(height, width):
    """Synthesis in float64 equals pywt.idwt2('db1'), cropped to size."""
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    coeffs = randn(2, 3, 4, h2, w2, seed=1)
    bank = haar_filter_bank(3)
    full = haar_idwt(coeffs, bank)
    assert full.dtype == torch.float64
    torch.testing.assert_close(
        full, haar_idwt_ref(coeffs), atol=1e-14, rtol=1e-13)
    torch.testing.assert_close(
        full, haar_idwt_ref(coeffs, scale=1.0), atol=1e-14, rtol=2e-7)
    cropped = haar_idwt(coeffs, bank, (height, width))
    assert torch.equal(cropped, full[:, :, :height, :width])


@pytest.mark.parametrize('height,width', [(4, 6), (3, 5)])
def test_arbitrary_filter_bank(height, width):
    """A random (4C, 1, 2, 2) bank is applied as the official grouped
    stride-2 conv / transposed conv (entry 4c+k, indexed [row, col])."""
    bank = randn(12, 1, 2, 2, seed=2)
    x = randn(2, 3, height, width, seed=3)
    coeffs = haar_dwt(x, bank)
    torch.testing.assert_close(
        coeffs, bank_dwt_ref(x, bank), atol=1e-13, rtol=1e-13)
    size = (height, width)
    torch.testing.assert_close(
        haar_idwt(coeffs, bank, size),
        bank_idwt_ref(coeffs, bank, size),
        atol=1e-13,
        rtol=1e-13)


def test_official_fixture(ops_fixture):
    """Analysis of the odd-height input, synthesis and the cropped round
    trip equal the official wavelet_transform / inverse_wavelet_transform."""
    x = ops_fixture['haar.x']
    wt, iwt = ops_fixture['haar.wt_filter'], ops_fixture['haar.iwt_filter']
    coeffs = haar_dwt(x, wt)
    torch.testing.assert_close(
        coeffs, ops_fixture['haar.wt_of_padded_x'], atol=1e-6, rtol=0)
    torch.testing.assert_close(
        haar_idwt(ops_fixture['haar.coeffs'], iwt),
        ops_fixture['haar.iwt_of_coeffs'],
        atol=1e-6,
        rtol=0)
    torch.testing.assert_close(
        haar_idwt(coeffs, iwt, x.shape[-2:]),
        ops_fixture['haar.roundtrip_cropped'],
        atol=1e-6,
        rtol=0)


@pytest.mark.parametrize('height,width', [(4, 6), (7, 5)])
def test_round_trip(height, width):
    """idwt(dwt(x)) cropped is x times 4 * (a2)**2 = 1 - 1.2e-7."""
    x = randn(2, 3, height, width, seed=4)
    bank = haar_filter_bank(3)
    back = haar_idwt(haar_dwt(x, bank), bank, (height, width))
    factor = 4 * HAAR_A2**2
    assert 1 - 1.3e-7 < factor < 1 - 1.1e-7
    torch.testing.assert_close(back, factor * x, atol=1e-14, rtol=1e-13)
    torch.testing.assert_close(back, x, atol=0, rtol=2e-7)


def test_gradcheck():
    """Both transforms are differentiable in float64 w.r.t. input and
    filters (odd size, so padding and cropping are on the path)."""
    x = randn(1, 2, 3, 5, seed=5).requires_grad_()
    bank = randn(8, 1, 2, 2, seed=6).requires_grad_()
    coeffs = randn(1, 2, 4, 2, 3, seed=7).requires_grad_()
    assert torch.autograd.gradcheck(haar_dwt, (x, bank))
    assert torch.autograd.gradcheck(lambda c, f: haar_idwt(c, f, (3, 5)),
                                    (coeffs, bank))


def test_wrong_filter_bank_raises():
    """A bank that does not have shape (4C, 1, 2, 2) is rejected."""
    x = randn(1, 3, 4, 4)
    coeffs = randn(1, 3, 4, 2, 2)
    for bank in (haar_filter_bank(2), haar_filter_bank(3)[:, 0]):
        with pytest.raises(ValueError):
            haar_dwt(x, bank)
        with pytest.raises(ValueError):
            haar_idwt(coeffs, bank)


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('height,width', SIZES)
@pytest.mark.parametrize('kernel', [3, 5])
def test_wavelet_conv_matches_reference(height, width, kernel, channels_last):
    """wavelet_conv (float64) equals pad / pywt analysis / depthwise conv /
    scale / pywt synthesis / crop, and float32 stays within 1e-5, in either
    memory format."""
    x = randn(2, 3, height, width, seed=8)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = randn(12, 1, kernel, kernel, seed=9) / kernel
    scale = randn(1, 12, 1, 1, seed=10)
    bank = haar_filter_bank(3)
    ref = wavelet_conv_ref(x, weight, scale)
    out = wavelet_conv(x, bank, bank, weight, scale)
    assert out.shape == x.shape
    torch.testing.assert_close(out, ref, atol=1e-13, rtol=1e-12)
    out32 = wavelet_conv(x.float(), bank, bank, weight.float(), scale.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), ref, atol=1e-5, rtol=1e-5)


def test_wavelet_conv_separate_banks():
    """The analysis and synthesis banks are used in their own places."""
    x = randn(2, 2, 5, 6, seed=11)
    wt, iwt = randn(8, 1, 2, 2, seed=12), randn(8, 1, 2, 2, seed=13)
    weight, scale = randn(8, 1, 3, 3, seed=14), randn(1, 8, 1, 1, seed=15)
    ref = wavelet_conv_ref(
        x,
        weight,
        scale,
        dwt=functools.partial(bank_dwt_ref, filters=wt),
        idwt=functools.partial(bank_idwt_ref, filters=iwt))
    torch.testing.assert_close(
        wavelet_conv(x, wt, iwt, weight, scale), ref, atol=1e-12, rtol=1e-12)


def test_wavelet_conv_gradcheck():
    """wavelet_conv is differentiable in float64 w.r.t. x, weight, scale."""
    bank = haar_filter_bank(2)
    x = randn(1, 2, 3, 5, seed=16).requires_grad_()
    weight = randn(8, 1, 3, 3, seed=17).requires_grad_()
    scale = randn(1, 8, 1, 1, seed=18).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda *args: wavelet_conv(args[0], bank, bank, *args[1:]),
        (x, weight, scale))

"""Every public op gives the result of contiguous input for any strided
input, on every CPU backend: channels-last, slices strided in every dim,
and size-1 dims with arbitrary strides (which PyTorch's contiguity checks
ignore, e.g. the gate of ``t.permute(0, 2, 1).unsqueeze(-1)``)."""
import pytest
import torch
from op_modes import modes, run

from mmmobilemamba.ops import (bidi_selective_scan, depthwise_conv2d, haar_dwt,
                               haar_filter_bank, haar_idwt,
                               layer_norm_silu_gate, stem_conv2d, wavelet_conv)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def scan_args(b, h, w):
    c, r = 12, 2
    return [
        randn(b, c, h, w),
        randn(2, r + 2, c, seed=1) / 4,
        randn(2, c, r, seed=2) / 2,
        randn(2, c, seed=3) / 2 - 1,
        randn(2 * c, 1, seed=4) / 2,
        randn(2 * c, seed=5)
    ], {}


def wavelet_args(b, h, w):
    c = 12
    bank = haar_filter_bank(c)
    return [
        randn(b, c, h, w), bank,
        bank.clone(),
        randn(4 * c, 1, 3, 3, seed=1) / 3,
        randn(1, 4 * c, 1, 1, seed=2)
    ], {}


def depthwise_args(b, h, w):
    c = 40
    return [randn(b, c, h, w),
            randn(c, 1, 3, 3, seed=1),
            randn(c, seed=2)], dict(
                padding=1, activation='silu')


def depthwise_residual_args(b, h, w):
    args, _ = depthwise_args(b, h, w)
    return args, dict(padding=1, activation='relu', residual=True)


def stem_args(b, h, w):
    return [randn(b, 3, h, w),
            randn(20, 3, 3, 3, seed=1),
            randn(20, seed=2)], dict(
                stride=2, padding=1, activation='relu')


def gate_args(b, h, w):
    c = 20
    return [
        randn(b, c, h, w),
        randn(b, c, h, w, seed=1) * 4,
        randn(c, seed=2),
        randn(c, seed=3), 1e-5
    ], {}


def dwt_args(b, h, w):
    return [randn(b, 5, h, w), haar_filter_bank(5)], {}


def idwt_args(b, h, w):
    return [randn(b, 5, 4, h, w), haar_filter_bank(5)], {}


#: op, its arguments, and which of them are maps to lay out.
CASES = {
    'bidi_selective_scan': (bidi_selective_scan, scan_args, [0]),
    'wavelet_conv': (wavelet_conv, wavelet_args, [0]),
    'depthwise_conv2d': (depthwise_conv2d, depthwise_args, [0]),
    'depthwise_conv2d-residual':
    (depthwise_conv2d, depthwise_residual_args, [0]),
    'stem_conv2d': (stem_conv2d, stem_args, [0]),
    'layer_norm_silu_gate': (layer_norm_silu_gate, gate_args, [0, 1]),
    'haar_dwt': (haar_dwt, dwt_args, [0]),
    'haar_idwt': (haar_idwt, idwt_args, [0]),
}
#: (batch, height, width): size-1 dims in every place.
SHAPES = [(2, 4, 5), (1, 5, 1), (2, 1, 6), (3, 6, 1), (1, 1, 1)]


def dense_strides(shape, order):
    """Strides of a dense tensor whose dims go ``order[0]`` innermost."""
    strides, step = [0] * len(shape), 1
    for dim in order:
        strides[dim] = step
        step *= shape[dim]
    return strides


def with_strides(t, strides):
    out = torch.empty_strided(t.shape, strides, dtype=t.dtype)
    return out.copy_(t)


def lay_out(t, layout):
    """``t``'s values in another memory layout."""
    shape, ndim = t.shape, t.dim()
    if layout == 'expanded':  # batch stride 0 (other values, same shape)
        return t[:1].expand(shape)
    if layout == 'sliced':  # every dim strided, storage offset 1
        big = torch.zeros([2 * n + 1 for n in shape])
        view = big[tuple(slice(1, 1 + 2 * n, 2) for n in shape)]
        return view.copy_(t)
    channels_innermost = [1] + list(range(ndim - 1, 1, -1)) + [0]
    order = {
        'contiguous': list(range(ndim - 1, -1, -1)),
        'channels-last': channels_innermost,
    }[layout.split('+')[0]]
    strides = dense_strides(shape, order)
    if '+' in layout:  # size-1 dims get unit or odd strides
        odd = 1 if layout.endswith('unit') else 997
        strides = [odd if n == 1 else s for n, s in zip(shape, strides)]
    return with_strides(t, strides)


LAYOUTS = [
    'channels-last', 'sliced', 'expanded', 'contiguous+unit', 'contiguous+odd',
    'channels-last+unit', 'channels-last+odd'
]


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_layout_does_not_change_the_result(case, layout):
    fn, make_args, maps = CASES[case]
    for shape in SHAPES:
        args, kwargs = make_args(*shape)
        laid_out = [
            lay_out(a, layout) if i in maps else a for i, a in enumerate(args)
        ]
        contiguous = [
            a.contiguous() if i in maps else a for i, a in enumerate(laid_out)
        ]
        for mode in modes(fn.__name__):
            expected = run(fn, contiguous, kwargs, mode)
            out = run(fn, laid_out, kwargs, mode)
            torch.testing.assert_close(
                out,
                expected,
                atol=1e-5,
                rtol=1e-5,
                msg=lambda m: f'{mode}, shape {shape}: {m}')

"""NaN and Inf reach the output of every op on every CPU backend (and of
the whole backbone, fused or not) exactly where the float64 PyTorch
reference has them: no kernel maps a NaN to a number."""
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F
from op_modes import modes, run

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.ops import (bidi_selective_scan, depthwise_conv2d, haar_dwt,
                               haar_filter_bank, haar_idwt,
                               layer_norm_silu_gate, stem_conv2d, use_backend,
                               wavelet_conv)
from mmmobilemamba.ops.c_kernels.library import available

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_ops'))
import op_reference  # noqa: E402

NAN, INF = float('nan'), float('inf')


def randn(*shape, seed=0, std=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))\
        * std


def activate(out, activation):
    if activation == 'relu':
        return F.relu(out)
    return F.silu(out) if activation == 'silu' else out


def scan_case():
    c, r = 8, 2
    args = [
        randn(2, c, 3, 5),
        randn(2, r + 2, c, seed=1, std=c**-0.5),
        randn(2, c, r, seed=2, std=r**-0.5),
        randn(2, c, seed=3, std=0.5) - 1,
        randn(2 * c, 1, seed=4, std=0.5),
        randn(2 * c, seed=5)
    ]
    return bidi_selective_scan, args, {}, op_reference.bidi_selective_scan_ref


def wavelet_case():
    c = 12
    bank = haar_filter_bank(c)
    args = [
        randn(2, c, 5, 6), bank,
        bank.clone(),
        randn(4 * c, 1, 3, 3, seed=1) / 3,
        randn(1, 4 * c, 1, 1, seed=2)
    ]

    def ref(x, wt, iwt, weight, scale):
        return op_reference.wavelet_conv_ref(x, weight, scale)

    return wavelet_conv, args, {}, ref


def depthwise_case(activation):
    c = 40  # a 32-channel group, one vector and single lanes
    args = [randn(2, c, 6, 5), randn(c, 1, 3, 3, seed=1), randn(c, seed=2)]
    kwargs = dict(stride=1, padding=1, activation=activation)

    def ref(x, w, b, stride, padding, activation):
        return activate(
            F.conv2d(
                x.double(),
                w.double(),
                b.double(),
                stride,
                padding,
                groups=x.shape[1]), activation)

    return depthwise_conv2d, args, kwargs, ref


def stem_case(activation):
    args = [randn(2, 3, 9, 8), randn(20, 3, 3, 3, seed=1), randn(20, seed=2)]
    kwargs = dict(stride=2, padding=1, activation=activation)

    def ref(x, w, b, stride, padding, activation):
        return activate(
            F.conv2d(x.double(), w.double(), b.double(), stride, padding),
            activation)

    return stem_conv2d, args, kwargs, ref


def gate_case():
    c = 20
    args = [
        randn(2, c, 4, 3),
        randn(2, c, 4, 3, seed=1) * 4,
        randn(c, seed=2),
        randn(c, seed=3), 1e-5
    ]

    def ref(x, gate, weight, bias, eps):
        normed = F.layer_norm(x.double().permute(0, 2, 3, 1), (x.shape[1], ),
                              weight.double(), bias.double(), eps)
        return normed.permute(0, 3, 1, 2) * F.silu(gate.double())

    return layer_norm_silu_gate, args, {}, ref


def dwt_case():
    return haar_dwt, [randn(2, 3, 5, 6), haar_filter_bank(3)], {}, \
        lambda x, bank: op_reference.haar_dwt_ref(x)


def idwt_case():
    return haar_idwt, [randn(2, 3, 4, 3, 3), haar_filter_bank(3)], {}, \
        lambda c, bank: op_reference.haar_idwt_ref(c)


CASES = {
    'bidi_selective_scan': scan_case,
    'wavelet_conv': wavelet_case,
    'depthwise_conv2d': lambda: depthwise_case(None),
    'depthwise_conv2d-relu': lambda: depthwise_case('relu'),
    'depthwise_conv2d-silu': lambda: depthwise_case('silu'),
    'stem_conv2d': lambda: stem_case(None),
    'stem_conv2d-relu': lambda: stem_case('relu'),
    'stem_conv2d-silu': lambda: stem_case('silu'),
    'layer_norm_silu_gate': gate_case,
    'haar_dwt': dwt_case,
    'haar_idwt': idwt_case,
}
#: Which argument each poisoned parameter is, per op.
PARAMETERS = {
    'bidi_selective_scan': [4, 5, 3],  # A_logs, Ds, dt_projs_bias
    'wavelet_conv': [4],  # scale
    'depthwise_conv2d': [2],  # bias
    'stem_conv2d': [2],
    'layer_norm_silu_gate': [1, 2],  # gate, weight
}


def assert_same_non_finite(out, expected, mode='c', exact=True):
    """NaN, +Inf and -Inf at the same places (not ``exact``: non-finite
    values at the same places; an Inf times a folded weight's 0 may come
    out NaN); the rest close."""
    expected = expected.to(out.dtype)
    tests = (('NaN', torch.isnan), ('+Inf', torch.isposinf),
             ('-Inf',
              torch.isneginf)) if exact else (('non-finite',
                                               lambda t: ~torch.isfinite(t)), )
    for name, test in tests:
        got, want = test(out), test(expected)
        assert torch.equal(got, want), (
            f'{mode}: {name} at {int(got.sum())} outputs, the reference at '
            f'{int(want.sum())} ({int((got != want).sum())} differ)')
    finite = torch.isfinite(expected)
    torch.testing.assert_close(
        out[finite], expected[finite], atol=1e-4, rtol=1e-4)


def poison(t, value, everywhere=False):
    t = t.clone()
    if everywhere:
        t.fill_(value)
    else:
        t.view(-1)[t.numel() // 3] = value
    return t


@pytest.mark.parametrize('value', [NAN, INF, -INF, 'all-nan'])
@pytest.mark.parametrize('case', sorted(CASES))
def test_non_finite_input(case, value):
    fn, args, kwargs, ref = CASES[case]()
    everywhere = value == 'all-nan'
    args[0] = poison(args[0], NAN if everywhere else value, everywhere)
    expected = ref(*args, **kwargs)
    assert not torch.isfinite(expected).all()
    for mode in modes(fn.__name__):
        assert_same_non_finite(
            run(fn, args, kwargs, mode),
            expected,
            mode,
            exact=value not in (INF, -INF))


@pytest.mark.parametrize('value', [NAN, INF, -INF])
@pytest.mark.parametrize('case', sorted(CASES))
def test_non_finite_parameter(case, value):
    fn, args, kwargs, ref = CASES[case]()
    indices = PARAMETERS.get(case.split('-')[0], [])
    if not indices:
        pytest.skip('the op has no parameter')
    for index in indices:
        poisoned = list(args)
        poisoned[index] = poison(args[index], value)
        expected = ref(*poisoned, **kwargs)
        for mode in modes(fn.__name__):
            assert_same_non_finite(
                run(fn, poisoned, kwargs, mode),
                expected,
                mode,
                exact=value not in (INF, -INF))


def backbone(deploy):
    torch.manual_seed(0)
    model = MobileMamba('t2', out_indices=(0, 1, 2)).eval()
    for m in model.modules():  # BN statistics a trained model has
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    if deploy:
        model.switch_to_deploy()
    return model


@pytest.mark.skipif(not available(), reason='the C kernels do not build here')
@pytest.mark.parametrize('deploy', [False, True])
@pytest.mark.parametrize('where',
                         ['pixel-nan', 'pixel-inf', 'all-nan', 'A_logs-nan'])
def test_backbone_c_matches_torch(where, deploy):
    """A NaN or Inf pixel, an all-NaN image or one NaN ``A_logs`` gives
    non-finite features at the same places on backend 'c' as on 'torch'."""
    model = backbone(deploy)
    x = randn(1, 3, 64, 64)
    if where == 'pixel-nan':
        x[0, 1, 30, 20] = NAN
    elif where == 'pixel-inf':
        x[0, 0, 10, 40] = INF
    elif where == 'all-nan':
        x.fill_(NAN)
    else:
        ss2d = next(m for m in model.modules() if hasattr(m, 'A_logs'))
        with torch.no_grad():
            ss2d.A_logs[3, 0] = NAN
    with torch.no_grad():
        with use_backend('torch'):
            expected = model(x)
        with use_backend('c'):
            outs = model(x)
    assert not all(torch.isfinite(e).all() for e in expected)
    for out, want in zip(outs, expected):
        assert_same_non_finite(out, want)

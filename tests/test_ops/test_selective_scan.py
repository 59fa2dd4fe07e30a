"""selective_scan against the float64 loop reference and the official
fixtures.

The op computes in float32 (float64 for float64 inputs): float32 results
are compared with the float64 reference at float32 tolerances, float64
results tightly, and float64 gradients with gradcheck and with the
reference's.
"""

import pytest
import torch
from op_reference import selective_scan_ref

from mmmobilemamba.ops import selective_scan

ARGS = ('u', 'delta', 'A', 'B', 'C', 'D', 'delta_bias')


def make_inputs(batch=2,
                groups=2,
                per_group=3,
                n_state=1,
                length=9,
                seed=0,
                dtype=torch.float32,
                softplus=True):
    """Random scan inputs with a stable (negative) A."""
    gen = torch.Generator().manual_seed(seed)
    channels = groups * per_group

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    delta = randn(batch, channels, length)
    if not softplus:  # keep the raw step sizes positive
        delta = delta.abs() + 0.05
    inputs = dict(
        u=randn(batch, channels, length),
        delta=delta,
        A=-torch.rand(channels, n_state, generator=gen, dtype=torch.float64) *
        2 - 0.05,
        B=randn(batch, groups, n_state, length),
        C=randn(batch, groups, n_state, length),
        D=randn(channels),
        delta_bias=torch.rand(channels, generator=gen, dtype=torch.float64) *
        0.5)
    return {k: v.to(dtype) for k, v in inputs.items()}


@pytest.mark.parametrize('n_state', [1, 4])
@pytest.mark.parametrize('length', [1, 2, 17])
@pytest.mark.parametrize('use_d,use_bias,softplus', [(True, True, True),
                                                     (False, False, True),
                                                     (True, False, False),
                                                     (False, True, False)])
def test_matches_loop_reference(n_state, length, use_d, use_bias, softplus):
    """Op (float32) equals the float64 loop reference, K=2, several L."""
    inputs = make_inputs(
        n_state=n_state, length=length, seed=length, softplus=softplus)
    if not use_d:
        inputs['D'] = None
    if not use_bias:
        inputs['delta_bias'] = None
    out = selective_scan(**inputs, delta_softplus=softplus)
    ref = selective_scan_ref(**inputs, delta_softplus=softplus)
    assert out.shape == (2, 6, length)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def test_grouping_of_b_and_c():
    """Channel d uses group d // Dk: 3 groups of 2 channels, distinct B/C."""
    inputs = make_inputs(groups=3, per_group=2, n_state=2, seed=7)
    out = selective_scan(**inputs)
    ref = selective_scan_ref(**inputs)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    # Swapping the groups' B changes the output, so the grouping matters.
    swapped = dict(inputs, B=inputs['B'].flip(1))
    assert not torch.allclose(selective_scan(**swapped), out, atol=1e-3)


@pytest.mark.parametrize('n_state', [1, 4])
def test_float64_matches_reference_tightly(n_state):
    """float64 inputs are computed in float64."""
    inputs = make_inputs(n_state=n_state, seed=3, dtype=torch.float64)
    out = selective_scan(**inputs)
    assert out.dtype == torch.float64
    torch.testing.assert_close(
        out, selective_scan_ref(**inputs), atol=1e-12, rtol=1e-12)


def test_half_inputs_are_computed_in_float32():
    inputs = make_inputs(n_state=1, seed=4)
    out = selective_scan(**{k: v.bfloat16() for k, v in inputs.items()})
    assert out.dtype == torch.float32


@pytest.mark.parametrize('n_state', [1, 4])
def test_gradcheck_float64(n_state):
    inputs = make_inputs(
        per_group=2, n_state=n_state, length=5, seed=9, dtype=torch.float64)
    leaves = tuple(inputs[k].clone().requires_grad_() for k in ARGS)
    assert torch.autograd.gradcheck(
        lambda *args: selective_scan(**dict(zip(ARGS, args))), leaves)


@pytest.mark.parametrize('name', ['scan_n1', 'scan_n4'])
def test_official_fixture(ops_fixture, name):
    """Op and reference both reproduce the official selective_scan_torch."""
    inputs = {k: ops_fixture[f'{name}.{k}'] for k in ARGS}
    expected = ops_fixture[f'{name}.out']
    out = selective_scan(**inputs, delta_softplus=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    ref = selective_scan_ref(**inputs, delta_softplus=True)
    torch.testing.assert_close(ref, expected.double(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('n_state', [1, 4])
def test_gradients_match_reference(n_state):
    """Autograd through the op equals autograd through the reference for
    every input."""
    inputs = make_inputs(
        per_group=2, n_state=n_state, length=6, seed=11, dtype=torch.float64)
    upstream = torch.randn(
        2,
        4,
        6,
        generator=torch.Generator().manual_seed(5),
        dtype=torch.float64)

    def grads(fn):
        leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        (fn(**leaves).double() * upstream).sum().backward()
        return {k: v.grad for k, v in leaves.items()}

    got, expected = grads(selective_scan), grads(selective_scan_ref)
    for key in ARGS:
        assert got[key] is not None, key
        torch.testing.assert_close(
            got[key], expected[key], atol=1e-10, rtol=1e-10, msg=key)


def test_batch_items_are_independent():
    """Batch-2 output equals the per-sample batch-1 outputs."""
    inputs = make_inputs(n_state=4, length=13, seed=2)
    out = selective_scan(**inputs)
    for b in range(2):
        single = {
            k: v[b:b + 1] if k in ('u', 'delta', 'B', 'C') else v
            for k, v in inputs.items()
        }
        torch.testing.assert_close(
            selective_scan(**single)[0], out[b], atol=1e-6, rtol=1e-6)


def test_channels_must_split_into_groups():
    """5 channels cannot be split into the 2 groups of B and C."""
    inputs = make_inputs()
    inputs['u'] = inputs['u'][:, :5]
    inputs['delta'] = inputs['delta'][:, :5]
    inputs['A'], inputs['D'] = inputs['A'][:5], inputs['D'][:5]
    inputs['delta_bias'] = inputs['delta_bias'][:5]
    with pytest.raises(ValueError):
        selective_scan(**inputs)


@pytest.mark.parametrize('length', [1, 2, 65])
def test_every_input_is_in_the_graph(length):
    """Even a one-step scan uses A (with a zero gradient), so that DDP finds
    every parameter of the 1x1 maps of small inputs used."""
    u, delta, B, C = (torch.randn(2, 4, length), torch.randn(2, 4, length),
                      torch.randn(2, 2, 1,
                                  length), torch.randn(2, 2, 1, length))
    A = -torch.rand(4, 1).requires_grad_()
    D = torch.randn(4).requires_grad_()
    y = selective_scan(u, delta, A, B, C, D)
    grad_A, grad_D = torch.autograd.grad(y.sum(), (A, D))
    if length == 1:
        assert (grad_A == 0).all()
    assert grad_A.shape == A.shape and grad_D.shape == D.shape

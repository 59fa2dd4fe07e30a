"""The chunked path of the PyTorch selective scan (sequences longer than
``MAX_UNCHUNKED_LENGTH``) against the float64 loop reference."""
import pytest
import torch
from op_reference import selective_scan_ref
from test_selective_scan import ARGS, make_inputs

from mmmobilemamba.ops.selective_scan import (MAX_UNCHUNKED_LENGTH,
                                              selective_scan_torch)


@pytest.mark.parametrize('n_state', [1, 3])
@pytest.mark.parametrize(
    'length', [MAX_UNCHUNKED_LENGTH + 1, 81, 150])  # padded, 9 x 9, padded
def test_chunks_match_loop_reference(n_state, length):
    inputs = make_inputs(n_state=n_state, length=length, seed=length)
    out = selective_scan_torch(**inputs)
    ref = selective_scan_ref(**inputs)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    out64 = selective_scan_torch(**{k: v.double() for k, v in inputs.items()})
    torch.testing.assert_close(out64, ref, atol=1e-12, rtol=1e-12)


def test_chunk_gradients_match_reference():
    inputs = make_inputs(
        per_group=2, n_state=2, length=70, seed=1, dtype=torch.float64)
    upstream = torch.randn(
        2,
        4,
        70,
        generator=torch.Generator().manual_seed(2),
        dtype=torch.float64)

    def grads(fn):
        leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        (fn(**leaves) * upstream).sum().backward()
        return {k: v.grad for k, v in leaves.items()}

    got, expected = grads(selective_scan_torch), grads(selective_scan_ref)
    for key in ARGS:
        torch.testing.assert_close(
            got[key], expected[key], atol=1e-10, rtol=1e-10, msg=key)


def test_strong_decay_stays_finite():
    """Chunks that decay to far below the smallest float32 number give the
    reference's result (no inf/nan from the carry), gradients included."""
    inputs = make_inputs(length=100, seed=3)
    inputs['delta'] = inputs['delta'] + 30  # delta * A down to about -60
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    out = selective_scan_torch(**leaves)
    torch.testing.assert_close(
        out.double(), selective_scan_ref(**inputs), atol=1e-4, rtol=1e-5)
    out.sum().backward()
    assert all(torch.isfinite(v.grad).all() for v in leaves.values())

"""cross_scan_bidi / cross_merge_bidi against index loops and the official
fixtures, including the per-sample merge (not the official CPU bug)."""

import pytest
import torch
from op_reference import cross_merge_ref, cross_scan_ref

from mmmobilemamba.ops import cross_merge_bidi, cross_scan_bidi


def randn(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize('height,width', [(3, 5), (5, 3), (1, 1), (2, 2)])
def test_scan_matches_reference(height, width):
    """Map (B, D, H, W) and sequence (B, D, L) inputs scan as the loops."""
    x = randn(2, 3, height, width)
    ref = cross_scan_ref(x)
    assert torch.equal(cross_scan_bidi(x), ref)
    assert torch.equal(cross_scan_bidi(x.flatten(2)), ref)
    # Direction 1 reverses the whole row-major sequence, not each row.
    assert torch.equal(ref[:, 1, :, 0], x[:, :, -1, -1])


@pytest.mark.parametrize('height,width', [(3, 5), (5, 3), (1, 1)])
def test_merge_matches_reference(height, width):
    """(B, 2, D, H, W) and (B, 2, D, L) inputs merge per sample."""
    ys = randn(3, 2, 4, height, width, seed=1)
    ref = cross_merge_ref(ys)
    assert ref.shape == (3, 4, height * width)
    assert torch.equal(cross_merge_bidi(ys), ref)
    assert torch.equal(cross_merge_bidi(ys.flatten(3)), ref)


def test_official_scan(ops_fixture):
    """Scan of csm.x equals the official torch cross-scan exactly."""
    out = cross_scan_bidi(ops_fixture['csm.x'])
    assert out.dtype == torch.float32
    assert torch.equal(out, ops_fixture['csm.scan'])


def test_official_merge_is_per_sample(ops_fixture):
    """Merge of csm.ys equals the corrected fixture exactly and is not the
    official CPU fallback, which mixes the batch (SPEC 14.1)."""
    ys = ops_fixture['csm.ys']
    assert ys.shape[0] == 2
    out = cross_merge_bidi(ys)
    assert torch.equal(out, ops_fixture['csm.merge'])
    wrong = ops_fixture['csm.merge_official_cpu_fallback_WRONG_for_batch_gt_1']
    assert not torch.allclose(out, wrong, atol=1e-3)
    torch.testing.assert_close(
        cross_merge_ref(ys),
        ops_fixture['csm.merge'].double(),
        atol=1e-6,
        rtol=0)


def test_merge_batch_items_are_independent():
    """Batch-2 merge equals the per-sample batch-1 merges."""
    ys = randn(2, 2, 3, 3, 5, seed=2)
    out = cross_merge_bidi(ys)
    for b in range(2):
        assert torch.equal(cross_merge_bidi(ys[b:b + 1])[0], out[b])


def test_merge_is_adjoint_of_scan():
    """<scan(x), y> == <x, merge(y)>, and autograd of each op applies the
    other one to the incoming gradient."""
    x = randn(2, 3, 3, 5, seed=3).requires_grad_()
    ys = randn(2, 2, 3, 15, seed=4).requires_grad_()
    lhs = (cross_scan_bidi(x) * ys).sum()
    rhs = (x.flatten(2) * cross_merge_bidi(ys)).sum()
    torch.testing.assert_close(lhs, rhs, atol=1e-12, rtol=1e-12)

    lhs.backward()
    assert torch.equal(x.grad, cross_merge_ref(ys.detach()).view_as(x))
    ys.grad = None
    x.grad = None
    rhs.backward()
    assert torch.equal(ys.grad, cross_scan_ref(x.detach()))

"""The mamba-ssm selective_scan backend against the PyTorch reference.

Runs only where mamba-ssm imports and a CUDA device is present.
"""
import pytest
import torch

from mmmobilemamba.ops import dispatch, list_backends, selective_scan
from mmmobilemamba.ops.mamba_ssm_selective_scan import mamba_ssm_available
from mmmobilemamba.ops.selective_scan import selective_scan_torch


def test_registered_below_triton_and_above_torch():
    assert list_backends('selective_scan') == ('mamba_ssm', 'torch')
    if not mamba_ssm_available():
        # Not installed: the automatic choice on CUDA tensors stays torch.
        assert dispatch('selective_scan',
                        torch.device('cuda')) is selective_scan_torch


@pytest.mark.skipif(
    not (torch.cuda.is_available() and mamba_ssm_available()),
    reason='needs mamba-ssm and a CUDA device')
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_matches_reference(dtype):
    gen = torch.Generator().manual_seed(0)
    batch, groups, per_group, length = 2, 2, 6, 37

    def randn(*shape, std=1.0):
        return (torch.randn(*shape, generator=gen) * std).cuda()

    channels = groups * per_group
    inputs = dict(
        u=randn(batch, channels, length).to(dtype),
        delta=randn(batch, channels, length, std=0.5).to(dtype),
        A=-torch.exp(randn(channels, 1, std=0.5)),
        B=randn(batch, groups, 1, length).to(dtype),
        C=randn(batch, groups, 1, length).to(dtype),
        D=randn(channels),
        delta_bias=randn(channels, std=0.5) - 1)
    leaves = {k: v.requires_grad_() for k, v in inputs.items()}
    out = selective_scan(**leaves)
    ref_leaves = {
        k: v.detach().clone().requires_grad_()
        for k, v in inputs.items()
    }
    ref = selective_scan_torch(**ref_leaves)
    assert out.dtype == torch.float32
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(out, ref, atol=tol, rtol=tol)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(out, list(leaves.values()), grad)
    want = torch.autograd.grad(ref, list(ref_leaves.values()), grad)
    for name, a, b in zip(leaves, got, want):
        torch.testing.assert_close(
            a, b, atol=tol * 10, rtol=tol * 10, msg=name)

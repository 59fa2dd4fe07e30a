""":func:`~mmmobilemamba.ops.selective_scan` through mamba-ssm's CUDA kernel.

Registered as backend ``mamba_ssm`` on CUDA and chosen automatically when
``mamba-ssm`` (``pip install mamba-ssm``) imports. Inputs are cast to
float32, so the result is float32 as the reference's.
"""
from functools import lru_cache
from typing import Optional

import torch
from torch import Tensor

from .backends import register_op
from .selective_scan import selective_scan_torch


@lru_cache(maxsize=None)
def mamba_ssm_available() -> bool:
    """Whether ``mamba_ssm.selective_scan_fn`` imports."""
    try:
        from mamba_ssm.ops.selective_scan_interface import \
            selective_scan_fn  # noqa: F401
    except ImportError:
        return False
    return True


@register_op(
    'selective_scan',
    'mamba_ssm',
    priority=10,
    devices=('cuda', ),
    available=mamba_ssm_available)
def selective_scan_mamba_ssm(u: Tensor,
                             delta: Tensor,
                             A: Tensor,
                             B: Tensor,
                             C: Tensor,
                             D: Optional[Tensor] = None,
                             delta_bias: Optional[Tensor] = None,
                             delta_softplus: bool = True) -> Tensor:
    if u.dtype == torch.float64:  # the kernel accumulates in float32
        return selective_scan_torch(u, delta, A, B, C, D, delta_bias,
                                    delta_softplus)
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    def f32(t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else t.float().contiguous()

    return selective_scan_fn(
        f32(u),
        f32(delta),
        f32(A),
        f32(B),
        f32(C),
        D=f32(D),
        delta_bias=f32(delta_bias),
        delta_softplus=delta_softplus)

"""LayerNorm over channels, gated by SiLU (the end of SS2D)."""
import torch.nn.functional as F
from torch import Tensor

from .backends import dispatch, register_op


def layer_norm_silu_gate(x: Tensor, gate: Tensor, weight: Tensor, bias: Tensor,
                         eps: float) -> Tensor:
    """``LayerNorm(x over channels) * SiLU(gate)``.

    Args:
        x (Tensor): Shape (B, C, H, W), normalised over C per pixel.
        gate (Tensor): Shape (B, C, H, W); the result takes its dtype.
        weight (Tensor): LayerNorm scale, shape (C, ).
        bias (Tensor): LayerNorm shift, shape (C, ).
        eps (float): Added to the variance.

    Returns:
        Tensor: Shape (B, C, H, W).
    """
    return dispatch('layer_norm_silu_gate', x.device)(x, gate, weight, bias,
                                                      eps)


@register_op('layer_norm_silu_gate', 'torch')
def layer_norm_silu_gate_torch(x: Tensor, gate: Tensor, weight: Tensor,
                               bias: Tensor, eps: float) -> Tensor:
    # weight.shape, not x's: a trace (ONNX) keeps it constant.
    normed = F.layer_norm(
        x.permute(0, 2, 3, 1), weight.shape, weight, bias, eps)
    return normed.permute(0, 3, 1, 2).to(gate.dtype) * F.silu(gate)

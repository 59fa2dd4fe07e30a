"""Triton implementations of :func:`~mmmobilemamba.ops.haar_dwt` and
:func:`~mmmobilemamba.ops.haar_idwt`.

Both are single pass kernels: the analysis reads each 2x2 patch once and
writes its four subbands; the synthesis writes each output pixel once from
the four coefficients of its patch. Each is the other's adjoint, so each
one's backward is the other kernel. Arithmetic is float32; outputs keep the
input dtype.
"""
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..backends import register_op
from ..haar import _bank, haar_dwt_torch, haar_idwt_torch
from . import PRIORITY

BLOCK = 512


@triton.jit(do_not_specialize=['C', 'H', 'W', 'h2', 'w2', 'total'])
def _haar_analysis_kernel(x_ptr, f_ptr, out_ptr, C, H, W, h2, w2, total,
                          BLOCK: tl.constexpr):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = idx < total
    j = idx % w2
    i = (idx // w2) % h2
    bc = idx // (w2 * h2)
    c = bc % C
    row, col = 2 * i, 2 * j
    src = x_ptr + bc.to(tl.int64) * H * W + row * W + col
    top, left = valid & (row < H), col < W
    bottom, right = valid & (row + 1 < H), col + 1 < W
    x00 = tl.load(src, mask=top & left, other=0.).to(tl.float32)
    x01 = tl.load(src + 1, mask=top & right, other=0.).to(tl.float32)
    x10 = tl.load(src + W, mask=bottom & left, other=0.).to(tl.float32)
    x11 = tl.load(src + W + 1, mask=bottom & right, other=0.).to(tl.float32)
    dst = out_ptr + bc.to(tl.int64) * 4 * h2 * w2 + i * w2 + j
    for k in tl.static_range(4):
        f = f_ptr + (4 * c + k) * 4
        coeff = (
            tl.load(f) * x00 + tl.load(f + 1) * x01 + tl.load(f + 2) * x10 +
            tl.load(f + 3) * x11)
        tl.store(
            dst + k * h2 * w2, coeff.to(out_ptr.dtype.element_ty), mask=valid)


@triton.jit(do_not_specialize=['C', 'H', 'W', 'h2', 'w2', 'total'])
def _haar_synthesis_kernel(coeff_ptr, f_ptr, out_ptr, C, H, W, h2, w2, total,
                           BLOCK: tl.constexpr):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = idx < total
    col = idx % W
    row = (idx // W) % H
    bc = idx // (W * H)
    c = bc % C
    patch = 2 * (row % 2) + col % 2
    src = coeff_ptr + bc.to(tl.int64) * 4 * h2 * w2 + (row // 2) * w2 + (
        col // 2)
    out = tl.zeros([BLOCK], dtype=tl.float32)
    for k in tl.static_range(4):
        f = tl.load(f_ptr + (4 * c + k) * 4 + patch, mask=valid, other=0.)
        coeff = tl.load(src + k * h2 * w2, mask=valid, other=0.)
        out += f.to(tl.float32) * coeff.to(tl.float32)
    tl.store(
        out_ptr + bc.to(tl.int64) * H * W + row * W + col,
        out.to(out_ptr.dtype.element_ty),
        mask=valid)


@torch.library.custom_op('mmmobilemamba::haar_analysis', mutates_args=())
def haar_analysis(x: Tensor, filters: Tensor, out_h: int,
                  out_w: int) -> Tensor:
    """(B, C, H, W) -> (B, C, 4, out_h, out_w); pixels past H, W are 0."""
    batch, channels, height, width = x.shape
    out = x.new_empty(batch, channels, 4, out_h, out_w)
    total = batch * channels * out_h * out_w
    _haar_analysis_kernel[(triton.cdiv(total,
                                       BLOCK), )](x, filters, out, channels,
                                                  height, width, out_h, out_w,
                                                  total, BLOCK)
    return out


@haar_analysis.register_fake
def _haar_analysis_fake(x, filters, out_h, out_w):
    return x.new_empty(*x.shape[:2], 4, out_h, out_w)


@torch.library.custom_op('mmmobilemamba::haar_synthesis', mutates_args=())
def haar_synthesis(coeffs: Tensor, filters: Tensor, out_h: int,
                   out_w: int) -> Tensor:
    """(B, C, 4, h2, w2) -> (B, C, out_h, out_w), out_h <= 2 * h2."""
    batch, channels, _, h2, w2 = coeffs.shape
    out = coeffs.new_empty(batch, channels, out_h, out_w)
    total = out.numel()
    _haar_synthesis_kernel[(triton.cdiv(total,
                                        BLOCK), )](coeffs, filters, out,
                                                   channels, out_h, out_w, h2,
                                                   w2, total, BLOCK)
    return out


@haar_synthesis.register_fake
def _haar_synthesis_fake(coeffs, filters, out_h, out_w):
    return coeffs.new_empty(*coeffs.shape[:2], out_h, out_w)


def _save_bank_and_size(ctx, inputs, output):
    """Either transform's backward is the other one, with the same bank, back
    to the spatial size of the forward's input."""
    source, filters = inputs[:2]
    ctx.save_for_backward(filters)
    ctx.size = source.shape[-2:]


def _analysis_backward(ctx, grad):
    filters, = ctx.saved_tensors
    return haar_synthesis(grad.contiguous(), filters,
                          *ctx.size), None, None, None


def _synthesis_backward(ctx, grad):
    filters, = ctx.saved_tensors
    return haar_analysis(grad.contiguous(), filters,
                         *ctx.size), None, None, None


haar_analysis.register_autograd(
    _analysis_backward, setup_context=_save_bank_and_size)
haar_synthesis.register_autograd(
    _synthesis_backward, setup_context=_save_bank_and_size)


def _constant_bank(filters: Tensor, channels: int) -> bool:
    """Whether the kernels apply: they give no gradient to the bank."""
    _bank(filters, channels, filters.dtype)  # validates the shape
    return not (filters.requires_grad and torch.is_grad_enabled())


@register_op('haar_dwt', 'triton', priority=PRIORITY, devices=('cuda', ))
def haar_dwt_triton(x: Tensor, filters: Tensor) -> Tensor:
    if x.dtype == torch.float64 or not _constant_bank(filters, x.shape[1]):
        return haar_dwt_torch(x, filters)
    height, width = x.shape[-2:]
    return haar_analysis(x.contiguous(), filters.contiguous(),
                         (height + 1) // 2, (width + 1) // 2)


@register_op('haar_idwt', 'triton', priority=PRIORITY, devices=('cuda', ))
def haar_idwt_triton(coeffs: Tensor,
                     filters: Tensor,
                     size: Optional[Tuple[int, int]] = None) -> Tensor:
    if coeffs.dtype == torch.float64 or not _constant_bank(
            filters, coeffs.shape[1]):
        return haar_idwt_torch(coeffs, filters, size)
    h2, w2 = coeffs.shape[-2:]
    out_h, out_w = (2 * h2, 2 * w2) if size is None else size
    if not (0 < out_h <= 2 * h2 and 0 < out_w <= 2 * w2):
        raise ValueError(f'size {tuple(size)} does not fit the '
                         f'{2 * h2}x{2 * w2} synthesis output')
    return haar_synthesis(coeffs.contiguous(), filters.contiguous(), out_h,
                          out_w)

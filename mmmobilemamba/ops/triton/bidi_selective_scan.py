"""Triton implementation of :func:`~mmmobilemamba.ops.bidi_selective_scan`.

One program scans a block of channels of one batch item in both directions.
Direction 1 reads and writes the map at reversed positions, so no reversed
copy is made; the d_state=1 recurrence ``h_t = a_t h_{t-1} + delta_t B_t u_t``
with ``a_t = exp(delta_t A)`` runs as a ``tl.associative_scan`` over chunks of
the sequence, carrying ``h`` between chunks, in float32 whatever the input
dtype. The ``x_proj`` projection (a GEMM) runs outside the kernel; the rank-R
step-size projection, softplus, scan, ``D`` skip and merge run inside.

The backward kernel recomputes the forward chunk by chunk (nothing but the
inputs is kept for it) and runs the adjoint recurrence
``q_t = g_t C_t + a_{t+1} q_{t+1}`` as a reverse scan.
"""
from typing import Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..backends import register_op
from ..bidi_selective_scan import bidi_selective_scan_torch
from . import PRIORITY

FORWARD_TILE = 4096  # elements (channels x steps) per program and chunk
BACKWARD_TILE = 2048
MAX_CHUNK = 1024


@triton.jit
def _linear_combine(a_first, b_first, a_second, b_second):
    """Compose ``h -> a h + b`` maps: the first applied, then the second."""
    return a_first * a_second, a_second * b_first + b_second


@triton.jit
def _adjoint_combine(f_later, p_later, q_later, f_earlier, p_earlier,
                     q_earlier):
    """Join an earlier and a later segment of ``q_t = v_t + a_{t+1} q_{t+1}``.

    A segment [i, j] is (a_i, prod_{s=i+1..j} a_s, q_i restricted to it);
    a reverse ``tl.associative_scan`` passes (accumulated later, earlier).
    """
    link = p_earlier * f_later
    return f_earlier, link * p_later, q_earlier + link * q_later


@triton.jit
def _softplus(z):
    """``F.softplus`` (threshold 20), with an accurate log1p."""
    e = tl.exp(tl.minimum(z, 20.0))
    one_plus = 1.0 + e
    log1p = tl.where(one_plus == 1.0, e,
                     tl.log(one_plus) * (e / (one_plus - 1.0)))
    return tl.where(z > 20.0, z, log1p)


@triton.jit
def _chunk_inputs(x_ptr,
                  proj_ptr,
                  dt_w_ptr,
                  b,
                  k: tl.constexpr,
                  d,
                  d_mask,
                  bias,
                  A,
                  t,
                  Di,
                  L,
                  R,
                  MAP_ORDER: tl.constexpr = False):
    """Load a (channels, steps) chunk of direction ``k`` and compute
    ``z`` (pre-softplus step), ``delta``, ``a = exp(delta A)``, the drive
    ``delta B u``, and ``u``, ``B``, ``C``, ``pos`` (map positions). Step
    ``t`` is map position ``t`` in direction 0 and ``L - 1 - t`` in
    direction 1, unless ``MAP_ORDER`` (then always ``t``)."""
    t_mask = t < L
    if k == 0 or MAP_ORDER:
        pos = t
    else:
        pos = L - 1 - t
    mask = d_mask[:, None] & t_mask[None, :]
    b64 = b.to(tl.int64)
    u = tl.load(
        x_ptr + b64 * Di * L + d[:, None] * L + pos[None, :],
        mask=mask,
        other=0.).to(tl.float32)
    proj = proj_ptr + (b64 * 2 + k) * (R + 2) * L
    z = tl.zeros_like(u) + bias[:, None]
    for r in range(R):
        w = tl.load(
            dt_w_ptr + (k * Di + d) * R + r, mask=d_mask,
            other=0.).to(tl.float32)
        p = tl.load(proj + r * L + pos, mask=t_mask, other=0.).to(tl.float32)
        z += w[:, None] * p[None, :]
    B = tl.load(proj + R * L + pos, mask=t_mask, other=0.).to(tl.float32)
    C = tl.load(proj + (R + 1) * L + pos, mask=t_mask, other=0.).to(tl.float32)
    delta = _softplus(z)
    a = tl.exp(delta * A[:, None])
    drive = delta * B[None, :] * u
    return z, delta, a, drive, u, B, C, pos, mask


@triton.jit
def _direction_params(dt_b_ptr, a_log_ptr, d_ptr, k: tl.constexpr, d, d_mask,
                      Di):
    bias = tl.load(dt_b_ptr + k * Di + d, mask=d_mask, other=0.).to(tl.float32)
    A = -tl.exp(
        tl.load(a_log_ptr + k * Di + d, mask=d_mask, other=0.).to(tl.float32))
    D = tl.load(d_ptr + k * Di + d, mask=d_mask, other=0.).to(tl.float32)
    return bias, A, D


# Channel and rank counts are not specialised on (fewer compilations); the
# length is, for aligned loads.
@triton.jit(do_not_specialize=['Di', 'R'])
def _bidi_scan_fwd_kernel(x_ptr, proj_ptr, dt_w_ptr, dt_b_ptr, a_log_ptr,
                          d_ptr, y_ptr, Di, L, R, BLOCK_D: tl.constexpr,
                          BLOCK_L: tl.constexpr, ONE_CHUNK: tl.constexpr):
    b = tl.program_id(0)
    d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    d_mask = d < Di
    steps = tl.arange(0, BLOCK_L)
    y_base = y_ptr + b.to(tl.int64) * Di * L + d[:, None] * L
    if ONE_CHUNK:
        # One chunk: direction 1 is a reverse scan of the same map-order
        # tile, so both directions are summed in registers and stored once.
        y = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
        for k in tl.static_range(2):
            bias, A, D = _direction_params(dt_b_ptr, a_log_ptr, d_ptr, k, d,
                                           d_mask, Di)
            z, delta, a, drive, u, B, C, pos, mask = _chunk_inputs(
                x_ptr, proj_ptr, dt_w_ptr, b, k, d, d_mask, bias, A, steps, Di,
                L, R, True)
            if k == 0:
                _, hs = tl.associative_scan((a, drive), 1, _linear_combine)
            else:
                _, hs = tl.associative_scan((a, drive),
                                            1,
                                            _linear_combine,
                                            reverse=True)
            y += C[None, :] * hs + D[:, None] * u
        tl.store(y_base + steps[None, :], y, mask=mask)
    else:
        for k in tl.static_range(2):
            bias, A, D = _direction_params(dt_b_ptr, a_log_ptr, d_ptr, k, d,
                                           d_mask, Di)
            h = tl.zeros([BLOCK_D], dtype=tl.float32)
            for start in range(0, L, BLOCK_L):
                t = start + steps
                z, delta, a, drive, u, B, C, pos, mask = _chunk_inputs(
                    x_ptr, proj_ptr, dt_w_ptr, b, k, d, d_mask, bias, A, t, Di,
                    L, R)
                a_cum, h_cum = tl.associative_scan((a, drive), 1,
                                                   _linear_combine)
                hs = a_cum * h[:, None] + h_cum
                y = C[None, :] * hs + D[:, None] * u
                if k == 1:
                    y += tl.load(y_base + pos[None, :], mask=mask, other=0.)
                tl.store(y_base + pos[None, :], y, mask=mask)
                last = tl.minimum(start + BLOCK_L, L) - 1
                h = tl.sum(tl.where(t[None, :] == last, hs, 0.), axis=1)
            if k == 0:
                tl.debug_barrier(
                )  # direction 1 adds to what direction 0 wrote


@triton.jit(do_not_specialize=['Di', 'R', 'n_chunks', 'n_dblocks'])
def _bidi_scan_bwd_kernel(x_ptr, proj_ptr, dt_w_ptr, dt_b_ptr, a_log_ptr,
                          d_ptr, g_ptr, carry_ptr, du_ptr, dz_ptr, dbc_ptr,
                          dparam_ptr, Di, L, R, n_chunks, n_dblocks,
                          BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    b = tl.program_id(0)
    dblock = tl.program_id(1)
    d = dblock * BLOCK_D + tl.arange(0, BLOCK_D)
    d_mask = d < Di
    steps = tl.arange(0, BLOCK_L)
    b64 = b.to(tl.int64)
    row = b64 * Di * L + d[:, None] * L
    for k in tl.static_range(2):
        bias, A, D = _direction_params(dt_b_ptr, a_log_ptr, d_ptr, k, d,
                                       d_mask, Di)
        carry = carry_ptr + ((b64 * 2 + k) * n_chunks) * Di + d
        # Pass 1: the state entering every chunk.
        h = tl.zeros([BLOCK_D], dtype=tl.float32)
        for chunk in range(1, n_chunks):
            t = (chunk - 1) * BLOCK_L + steps
            z, delta, a, drive, u, B, C, pos, mask = _chunk_inputs(
                x_ptr, proj_ptr, dt_w_ptr, b, k, d, d_mask, bias, A, t, Di, L,
                R)
            a_cum, h_cum = tl.associative_scan((a, drive), 1, _linear_combine)
            hs = a_cum * h[:, None] + h_cum
            h = tl.sum(tl.where(t[None, :] == chunk * BLOCK_L - 1, hs, 0.), 1)
            tl.store(carry + chunk * Di, h, mask=d_mask)
        tl.debug_barrier()
        # Pass 2: chunks in reverse scan order.
        kappa = tl.zeros([BLOCK_D], dtype=tl.float32)  # a_{t+1} q_{t+1}
        dA = tl.zeros([BLOCK_D], dtype=tl.float32)
        dbias = tl.zeros([BLOCK_D], dtype=tl.float32)
        dD = tl.zeros([BLOCK_D], dtype=tl.float32)
        for back in range(n_chunks):
            chunk = n_chunks - 1 - back
            t = chunk * BLOCK_L + steps
            z, delta, a, drive, u, B, C, pos, mask = _chunk_inputs(
                x_ptr, proj_ptr, dt_w_ptr, b, k, d, d_mask, bias, A, t, Di, L,
                R)
            h_in = tl.load(
                carry + chunk * Di, mask=d_mask & (chunk > 0), other=0.)
            a_cum, h_cum = tl.associative_scan((a, drive), 1, _linear_combine)
            hs = a_cum * h_in[:, None] + h_cum
            g = tl.load(
                g_ptr + row + pos[None, :], mask=mask, other=0.).to(tl.float32)
            _, prod, q_in = tl.associative_scan(
                (a, tl.full(a.shape, 1., tl.float32), g * C[None, :]),
                1,
                _adjoint_combine,
                reverse=True)
            q = q_in + prod * kappa[:, None]
            kappa = tl.sum(
                tl.where(t[None, :] == chunk * BLOCK_L, a * q, 0.), 1)
            decayed = hs - drive  # a_t h_{t-1}
            q_delta = q * delta
            d_delta = q * (B[None, :] * u + A[:, None] * decayed)
            dz = tl.where(mask, d_delta * tl.where(z > 20., 1., tl.sigmoid(z)),
                          0.)
            du = D[:, None] * g + q_delta * B[None, :]
            if k == 1:
                du += tl.load(du_ptr + row + pos[None, :], mask=mask, other=0.)
            tl.store(du_ptr + row + pos[None, :], du, mask=mask)
            tl.store(
                dz_ptr + ((b64 * 2 + k) * Di + d[:, None]) * L + pos[None, :],
                dz,
                mask=mask)
            dbc = dbc_ptr + (((b64 * 2 + k) * n_dblocks + dblock) * 2) * L
            t_mask = t < L
            tl.store(dbc + pos, tl.sum(q_delta * u, 0), mask=t_mask)
            tl.store(dbc + L + pos, tl.sum(g * hs, 0), mask=t_mask)
            dA += tl.sum(tl.where(mask, q_delta * decayed, 0.), 1)
            dbias += tl.sum(dz, 1)
            dD += tl.sum(g * u, 1)
        params = dparam_ptr + (b64 * 2 + k) * 3 * Di + d
        tl.store(params, dA, mask=d_mask)
        tl.store(params + Di, dbias, mask=d_mask)
        tl.store(params + 2 * Di, dD, mask=d_mask)
        if k == 0:
            tl.debug_barrier()  # direction 1 adds to direction 0's du


def _blocks(channels: int, length: int, tile: int) -> Tuple[int, int]:
    block_l = min(triton.next_power_of_2(length), MAX_CHUNK)
    block_d = min(triton.next_power_of_2(channels), max(tile // block_l, 1))
    return block_d, block_l


@torch.library.custom_op('mmmobilemamba::bidi_scan', mutates_args=())
def bidi_scan(x: Tensor, proj: Tensor, dt_weight: Tensor, dt_bias: Tensor,
              A_logs: Tensor, Ds: Tensor) -> Tensor:
    """Scan core: x (B, Di, L), proj = x_proj @ x (B, 2, R + 2, L), all
    contiguous -> y (B, Di, L) float32."""
    batch, channels, length = x.shape
    y = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    block_d, block_l = _blocks(channels, length, FORWARD_TILE)
    grid = (batch, triton.cdiv(channels, block_d))
    _bidi_scan_fwd_kernel[grid](
        x,
        proj,
        dt_weight,
        dt_bias,
        A_logs,
        Ds,
        y,
        channels,
        length,
        dt_weight.shape[-1],
        BLOCK_D=block_d,
        BLOCK_L=block_l,
        ONE_CHUNK=length <= block_l,
        num_warps=4)
    return y


@bidi_scan.register_fake
def _bidi_scan_fake(x, proj, dt_weight, dt_bias, A_logs, Ds):
    return x.new_empty(x.shape, dtype=torch.float32)


@torch.library.custom_op('mmmobilemamba::bidi_scan_backward', mutates_args=())
def bidi_scan_backward(grad: Tensor, x: Tensor, proj: Tensor,
                       dt_weight: Tensor, dt_bias: Tensor, A_logs: Tensor,
                       Ds: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients of :func:`bidi_scan`, all float32: ``du`` (B, Di, L) (the
    direct path to ``x``), ``dz`` (B, 2, Di, L) (pre-softplus step), ``dBC``
    (B, 2, 2, L) and ``dparams`` (B, 2, 3, Di) = per-item (dA, dbias, dD)."""
    batch, channels, length = x.shape
    block_d, block_l = _blocks(channels, length, BACKWARD_TILE)
    n_chunks = triton.cdiv(length, block_l)
    n_dblocks = triton.cdiv(channels, block_d)
    f32 = dict(dtype=torch.float32, device=x.device)
    carry = torch.empty(batch, 2, n_chunks, channels, **f32)
    du = torch.empty(batch, channels, length, **f32)
    dz = torch.empty(batch, 2, channels, length, **f32)
    dbc = torch.empty(batch, 2, n_dblocks, 2, length, **f32)
    dparams = torch.empty(batch, 2, 3, channels, **f32)
    _bidi_scan_bwd_kernel[(batch, n_dblocks)](
        x,
        proj,
        dt_weight,
        dt_bias,
        A_logs,
        Ds,
        grad,
        carry,
        du,
        dz,
        dbc,
        dparams,
        channels,
        length,
        dt_weight.shape[-1],
        n_chunks,
        n_dblocks,
        BLOCK_D=block_d,
        BLOCK_L=block_l,
        num_warps=4)
    return du, dz, dbc.sum(2), dparams


@bidi_scan_backward.register_fake
def _bidi_scan_backward_fake(grad, x, proj, dt_weight, dt_bias, A_logs, Ds):
    batch, channels, length = x.shape
    f32 = dict(dtype=torch.float32)
    return (x.new_empty(x.shape,
                        **f32), x.new_empty(batch, 2, channels, length, **f32),
            x.new_empty(batch, 2, 2, length,
                        **f32), x.new_empty(batch, 2, 3, channels, **f32))


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad):
    x, proj, dt_weight, dt_bias, A_logs, Ds = ctx.saved_tensors
    du, dz, dbc, dparams = bidi_scan_backward(grad.contiguous(), x, proj,
                                              dt_weight, dt_bias, A_logs, Ds)
    rank = dt_weight.shape[-1]
    d_dt_rank = torch.einsum('kdr,bkdl->bkrl', dt_weight.float(), dz)
    d_proj = torch.cat([d_dt_rank, dbc], dim=2)
    d_dt_weight = torch.einsum('bkdl,bkrl->kdr', dz, proj[:, :, :rank].float())
    dA, dbias, dD = dparams.sum(0).unbind(1)  # each (2, Di)
    A = -torch.exp(A_logs.float().view(2, -1))
    return (du.to(x.dtype), d_proj.to(proj.dtype),
            d_dt_weight.to(dt_weight.dtype),
            dbias.to(dt_bias.dtype), (dA * A).view_as(A_logs).to(A_logs.dtype),
            dD.reshape(Ds.shape).to(Ds.dtype))


bidi_scan.register_autograd(_backward, setup_context=_setup_context)


@register_op(
    'bidi_selective_scan', 'triton', priority=PRIORITY, devices=('cuda', ))
def bidi_selective_scan_triton(x: Tensor, x_proj_weight: Tensor,
                               dt_projs_weight: Tensor, dt_projs_bias: Tensor,
                               A_logs: Tensor, Ds: Tensor) -> Tensor:
    if x.dtype == torch.float64:  # the kernels accumulate in float32
        return bidi_selective_scan_torch(x, x_proj_weight, dt_projs_weight,
                                         dt_projs_bias, A_logs, Ds)
    batch, channels = x.shape[:2]
    x = x.flatten(2).contiguous()
    proj = torch.matmul(x_proj_weight.reshape(-1, channels), x)
    proj = proj.view(batch, 2, -1, x.shape[-1])
    return bidi_scan(x, proj, dt_projs_weight.contiguous(),
                     dt_projs_bias.contiguous(), A_logs.contiguous(),
                     Ds.contiguous())

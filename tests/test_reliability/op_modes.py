"""The ways the reliability tests run an op on CPU."""
import torch

from mmmobilemamba.ops import list_backends, use_backend
from mmmobilemamba.ops.c_kernels.library import available


def modes(op):
    """'autograd' (the out-of-place graph) and every CPU inference backend:
    'torch' runs in place, 'c' is the C kernel."""
    found = ['autograd', 'torch']
    if 'c' in list_backends(op) and available():
        found.append('c')
    return found


def run(fn, args, kwargs, mode):
    """``fn(*args, **kwargs)`` in ``mode``; the autograd mode makes the
    floating-point inputs leaves that require grad, keeping their strides."""
    if mode == 'autograd':
        args = [
            a.detach().requires_grad_()
            if isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for a in args
        ]
        return fn(*args, **kwargs).detach()
    with torch.no_grad(), use_backend(mode, fn.__name__):
        return fn(*args, **kwargs)

"""The one place that chooses which implementation runs each op.

Every op in :mod:`mmmobilemamba.ops` is called through :func:`dispatch`, which
returns the implementation of the highest-priority backend that is installed
and supports the input's device. Models never import an implementation
directly, so adding a faster backend (e.g. Triton kernels) is a matter of
registering it here.

The choice can be forced, per op or for all ops, with :func:`set_backend` or
the ``MMMOBILEMAMBA_OPS_BACKEND`` environment variable, e.g. ``torch`` (every
op) or ``selective_scan=torch,haar_dwt=triton``. An all-ops choice applies to
the ops that have that backend; the others choose automatically. A forced
backend that cannot run raises an error; an automatic choice falls back to
``torch``, which every op has, with one warning per op and device when it
passes over a faster backend whose dependencies are missing.
"""
import logging
import os
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log

ENV_VAR = 'MMMOBILEMAMBA_OPS_BACKEND'
ALL_OPS = '*'


class _Backend:
    """A registered implementation of one op."""

    def __init__(self, fn: Callable, priority: int, devices: Optional[tuple],
                 available: Callable[[], bool]):
        self.fn = fn
        self.priority = priority
        self.devices = devices
        self.available = available

    def supports(self, device: torch.device) -> bool:
        return self.devices is None or device.type in self.devices


_IMPLS: Dict[str, Dict[str, _Backend]] = defaultdict(dict)
_FORCED: Dict[str, str] = {}
_LOGGED = set()
#: Choices already made, keyed by (op, device type, $ENV_VAR, generation);
#: ``_generation`` moves on whenever a backend is registered or forced.
_CHOSEN: Dict[tuple, '_Choice'] = {}
_generation = 0


class _Choice:
    """A dispatch result, valid while its backends' availability holds:
    ``chosen`` is available and every faster one passed over is not."""

    def __init__(self, impls: Dict[str, _Backend], chosen: _Backend,
                 passed_over: List[_Backend]):
        self.impls = impls
        self.chosen = chosen
        self.passed_over = passed_over

    def holds(self, impls: Optional[Dict[str, _Backend]]) -> bool:
        return impls is self.impls and self.chosen.available() and not any(
            b.available() for b in self.passed_over)


def _invalidate() -> None:
    global _generation
    _generation += 1
    _CHOSEN.clear()


def register_op(op: str,
                backend: str,
                priority: int = 0,
                devices: Optional[Tuple[str, ...]] = None,
                available: Callable[[], bool] = lambda: True) -> Callable:
    """Decorator registering ``fn`` as the ``backend`` implementation of
    ``op``. Higher ``priority`` wins in automatic selection; ``devices`` are
    the tensor device types it accepts (``None``: any); ``available`` tells
    whether its dependencies are installed."""

    def wrapper(fn: Callable) -> Callable:
        _IMPLS[op][backend] = _Backend(
            fn, priority, None if devices is None else tuple(devices),
            available)
        _invalidate()
        return fn

    return wrapper


def records_graph(*tensors: torch.Tensor) -> bool:
    """Whether a call on ``tensors`` must be a graph of differentiable,
    traceable ops: autograd records it, or a trace (ONNX export) does. The
    in-place and C inference paths apply only where this is false."""
    return torch.jit.is_tracing() or (torch.is_grad_enabled()
                                      and any(t.requires_grad
                                              for t in tensors))


def list_backends(op: str) -> Tuple[str, ...]:
    """Names of the backends registered for ``op``, best first."""
    impls = _IMPLS.get(op, {})
    return tuple(sorted(impls, key=lambda b: -impls[b].priority))


def set_backend(backend: Optional[str], op: str = ALL_OPS) -> None:
    """Force ``backend`` for ``op`` (all ops by default); ``None`` restores
    automatic selection."""
    if backend is None:
        _FORCED.pop(op, None)
    else:
        _FORCED[op] = backend
    _invalidate()


@contextmanager
def use_backend(backend: Optional[str], op: str = ALL_OPS):
    """:func:`set_backend` for the duration of a ``with`` block; what was
    forced before is restored afterwards."""
    previous = _FORCED.get(op)
    set_backend(backend, op)
    try:
        yield
    finally:
        set_backend(previous, op)


def _forced_backend(op: str) -> Tuple[Optional[str], bool]:
    """The backend forced for ``op`` and whether it was named for ``op``
    itself (rather than for all ops). ``set_backend`` beats the variable."""
    if op in _FORCED:
        return _FORCED[op], True
    if ALL_OPS in _FORCED:
        return _FORCED[ALL_OPS], False
    spec = os.environ.get(ENV_VAR, '').strip()
    if not spec:
        return None, False
    if '=' not in spec:
        return spec, False
    for item in spec.split(','):
        name, _, backend = item.partition('=')
        if name.strip() not in _IMPLS:
            raise ValueError(
                f'${ENV_VAR}={spec!r} names the op {name.strip()!r}, which '
                f'does not exist; use one of {sorted(_IMPLS)}, or a backend '
                f'alone for every op (e.g. {ENV_VAR}=torch)')
        if name.strip() == op:
            return backend.strip(), True
    return None, False


def _warn_skipped(op: str, device: torch.device, impls: Dict[str, _Backend],
                  chosen: str) -> None:
    """Warn once per op and device when the automatic choice passes over a
    faster backend for the device because its dependencies are missing."""
    skipped = [
        b for b in list_backends(op)
        if impls[b].priority > impls[chosen].priority
        and impls[b].supports(device)
    ]
    if skipped and (op, device.type, 'skipped') not in _LOGGED:
        _LOGGED.add((op, device.type, 'skipped'))
        print_log(
            f'mmmobilemamba op {op!r} on {device.type}: the faster '
            f'backend(s) {skipped} are not installed, falling back to '
            f'{chosen!r} (install them: pip install triton for triton, a C '
            f'compiler for c; or set '
            f'${ENV_VAR}={chosen} to silence this)',
            logger='current',
            level=logging.WARNING)


def dispatch(op: str, device: torch.device) -> Callable:
    """Return the implementation of ``op`` to use for tensors on
    ``device``. The choice is remembered while the backends and their
    availability stay as they were: a call costs a dict lookup."""
    impls = _IMPLS.get(op)
    key = (op, device.type, os.environ.get(ENV_VAR), _generation)
    choice = _CHOSEN.get(key)
    if choice is not None and choice.holds(impls):
        return choice.chosen.fn
    if not impls:
        raise KeyError(f'no implementation is registered for op {op!r}; '
                       f'known ops: {sorted(_IMPLS)}')
    forced, per_op = _forced_backend(op)
    if forced is not None and forced not in impls and not per_op and any(
            forced in backends for backends in _IMPLS.values()):
        forced = None  # an all-ops choice that this op does not have
    if forced is not None:
        impl = impls.get(forced)
        if impl is None:
            raise ValueError(
                f'backend {forced!r} was requested for op {op!r} (through '
                f'set_backend or ${ENV_VAR}) but is not registered; '
                f'choose one of {list_backends(op)}')
        if not impl.available():
            raise RuntimeError(
                f'backend {forced!r} was requested for op {op!r} but its '
                'dependencies are not installed; install them or unset the '
                f'request (set_backend(None) / ${ENV_VAR}) to fall back to '
                'the pure-PyTorch implementation')
        if not impl.supports(device):
            usable = [
                b for b in list_backends(op)
                if impls[b].supports(device) and impls[b].available()
            ]
            raise RuntimeError(
                f'backend {forced!r} for op {op!r} runs on {impl.devices} '
                f'tensors, got a {device.type} tensor; move the model and '
                f'inputs there, or force one of {usable} (or none)')
        name = forced
        passed_over = []
    else:
        candidates = [
            b for b in list_backends(op)
            if impls[b].supports(device) and impls[b].available()
        ]
        if not candidates:
            raise RuntimeError(f'no backend of op {op!r} runs on '
                               f'{device.type} tensors')
        name = candidates[0]
        _warn_skipped(op, device, impls, name)
        passed_over = [
            impls[b] for b in list_backends(op)
            if impls[b].priority > impls[name].priority
            and impls[b].supports(device)
        ]
    if (op, name, device.type) not in _LOGGED:
        _LOGGED.add((op, name, device.type))
        print_log(
            f'mmmobilemamba op {op!r} on {device.type}: {name}',
            logger='current')
    _CHOSEN[key] = _Choice(impls, impls[name], passed_over)
    return impls[name].fn

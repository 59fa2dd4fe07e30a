"""All-or-nothing validation of a state dict before it is loaded."""
import contextlib
import copy
from typing import Iterator, List, Mapping, Optional

import torch
import torch.nn as nn

from .checkpoint_arch import arch_mismatch_hint


class IncompatibleCheckpointError(RuntimeError):
    """A checkpoint does not match the model it is loaded into."""


def _listing(title: str, items, limit: int = 20) -> str:
    items = list(items)
    shown = '\n'.join(f'    {item}' for item in items[:limit])
    more = f'\n    ... and {len(items) - limit} more' if len(
        items) > limit else ''
    return f'  {title} ({len(items)}):\n{shown}{more}'


def _entry_problem(value, target: torch.Tensor) -> Optional[str]:
    """Why ``value`` cannot be copied into ``target`` as it is, or None."""
    if not isinstance(value, torch.Tensor):
        return f'a {type(value).__name__}, not a torch.Tensor'
    if value.is_meta:
        return 'a meta tensor, which holds no values'
    if value.layout != torch.strided or value.is_quantized or \
            value.is_nested:
        kind = 'quantized' if value.is_quantized else (
            'nested' if value.is_nested else str(value.layout))
        return f'a {kind} tensor, not a dense one'
    if value.is_complex() and not target.is_complex():
        return f'{value.dtype} for a real {target.dtype} entry'
    if value.is_floating_point() or value.is_complex():
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            nan = int(torch.isnan(value).sum())
            inf = int((~finite).sum()) - nan
            return f'{nan} NaN and {inf} Inf values'
    return None


def _invalid_entries(module: nn.Module, state_dict: Mapping,
                     prefix: str) -> List[str]:
    expected = module.state_dict(prefix=prefix)
    problems = []
    for key, target in expected.items():
        if key in state_dict:
            problem = _entry_problem(state_dict[key], target)
            if problem is not None:
                problems.append(f'{key}: {problem}')
    return problems


def _invalid_entries_message(problems: List[str]) -> str:
    return (_listing('entries that are not loadable tensors', problems) +
            '\n  every entry must be a dense, finite, real torch.Tensor as '
            'model.state_dict() saves it: NaN/Inf values come from a '
            'diverged run or a damaged file (use an earlier checkpoint), '
            'other entries from a file not saved by torch.save(model.'
            'state_dict()) (save it again from the model)')


def validate_state_dict_entries(module: nn.Module,
                                state_dict: Mapping,
                                prefix: str = '') -> None:
    """Raise :class:`IncompatibleCheckpointError` unless every entry of
    ``state_dict`` that ``module`` would load (its keys under ``prefix``) is
    a dense strided :class:`torch.Tensor` with values: not a Python number or
    list, not meta, sparse, quantized or nested, not complex for a real
    entry, and without NaN or Inf.

    Non-finite values are refused, not warned about: a model loaded with
    them gives NaN outputs or, for an Inf ``running_var``, zero features.
    Keys and shapes are left to :func:`check_state_dict` (or to the loader).
    Called before any tensor is copied; the message lists every bad entry.
    """
    problems = _invalid_entries(module, state_dict, prefix)
    if problems:
        raise IncompatibleCheckpointError(
            f'the checkpoint cannot be loaded into {type(module).__name__} '
            f'(prefix {prefix!r}); nothing was loaded:\n' +
            _invalid_entries_message(problems))


@contextlib.contextmanager
def restore_on_error(module: nn.Module) -> Iterator[None]:
    """Put every parameter and buffer of ``module`` back as it was if the
    block raises (for loads that check only as they copy)."""
    before = {k: v.clone() for k, v in module.state_dict().items()}
    try:
        yield
    except BaseException:
        with torch.no_grad():
            for key, value in module.state_dict().items():
                if key in before:
                    value.copy_(before[key])
        raise


def check_state_dict(module: nn.Module,
                     state_dict: Mapping,
                     prefix: str = '') -> None:
    """Raise :class:`IncompatibleCheckpointError` unless the entries of
    ``state_dict`` under ``prefix`` are exactly ``module``'s own entries with
    the same shapes (a missing ``num_batches_tracked`` is tolerated), each
    one valid for :func:`validate_state_dict_entries`.

    Called before any tensor is copied, so that a failed load leaves the
    module unchanged. The message lists the missing, unexpected,
    shape-mismatched and invalid entries and suggests the usual fix.
    """
    expected = module.state_dict(prefix=prefix)
    given = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
    missing = [
        k for k in expected
        if k not in given and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in given if k not in expected]
    mismatched = [
        f'{k}: checkpoint {tuple(given[k].shape)}, model '
        f'{tuple(expected[k].shape)}' for k in expected
        if k in given and isinstance(given[k], torch.Tensor)
        and tuple(given[k].shape) != tuple(expected[k].shape)
    ]
    invalid = _invalid_entries(module, given, prefix)
    if not (missing or unexpected or mismatched or invalid):
        return
    name = type(module).__name__
    lines = [
        f'the checkpoint does not match {name} '
        f'(prefix {prefix!r}); nothing was loaded:'
    ]
    if not given:
        lines.append(f'  the checkpoint has no entry under {prefix!r}')
    if missing:
        lines.append(_listing('missing keys', missing))
    if unexpected:
        lines.append(_listing('unexpected keys', unexpected))
    if mismatched:
        lines.append(_listing('shape mismatches', mismatched))
    if invalid:
        lines.append(_invalid_entries_message(invalid))
    if missing or unexpected or mismatched:
        lines.append(_hint(module, given, prefix))
    raise IncompatibleCheckpointError('\n'.join(lines))


def _key_prefix(keys, expected) -> Optional[tuple]:
    """The leading key components (e.g. ``'backbone.'``) whose removal
    turns most of ``keys`` into ``expected`` keys, with its count."""
    counts = {}
    for key in keys:
        parts = key.split('.')
        for i in range(1, len(parts)):
            if '.'.join(parts[i:]) in expected:
                head = '.'.join(parts[:i]) + '.'
                counts[head] = counts.get(head, 0) + 1
                break
    if not counts:
        return None
    return max(counts.items(), key=lambda item: item[1])


def _fused_keys(module: nn.Module) -> set:
    """The state-dict keys of ``module`` once BN-fused (empty if it cannot
    be fused)."""
    if getattr(module, 'deploy', None) is not False or \
            not hasattr(module, 'switch_to_deploy'):
        return set()
    fused = copy.deepcopy(module)
    try:
        fused.switch_to_deploy()
    except Exception:
        return set()
    return set(fused.state_dict())


def _hint(module: nn.Module, given: Mapping, prefix: str) -> str:
    """What the checkpoint is, judged from its keys, and what to do."""
    keys = {k[len(prefix):]: v for k, v in given.items()}
    name = type(module).__name__
    expected = set(module.state_dict())
    nested = [k for k, v in keys.items() if isinstance(v, Mapping)]
    if nested:
        what = 'EMA weights' if all('ema' in k for k in nested) else 'weights'
        return (f'hint: the file is a training checkpoint that holds its '
                f'{what} nested under {nested}, not a state dict; take them '
                f'out (torch.load(FILE, weights_only=True)[{nested[0]!r}]) '
                'or convert the file with python tools/model_converters/'
                'mobilemamba_to_mmpretrain.py SRC DST')
    if any(k.startswith(('blocks1.', 'blocks2.', 'blocks3.')) for k in keys):
        return ('hint: these are the official MobileMamba key names; convert '
                'the file first with python tools/model_converters/'
                'mobilemamba_to_mmpretrain.py SRC DST')
    if not keys:
        return (f'hint: the checkpoint holds no entry for {name}; check the '
                'file and the prefix it is loaded with')
    overlap = sum(k in expected for k in keys)
    if not overlap:
        found = _key_prefix(keys, expected)
        if found is None:
            examples = ', '.join(repr(k) for k in list(keys)[:3])
            return (f'hint: the file is not a {name} checkpoint: none of its '
                    f'{len(keys)} keys (e.g. {examples}) is a key of {name}, '
                    'with or without a prefix; load the checkpoint made for '
                    'this model')
        head, count = found
        ema = ' (EMA weights)' if 'ema' in head else ''
        return (f'hint: the file\'s {name} keys carry the prefix {head!r} '
                f'({count} of {len(keys)} keys){ema}; load it with '
                f"init_cfg=dict(type='Pretrained', checkpoint=..., "
                f"prefix={head!r}) or load_checkpoint(..., revise_keys="
                f"[(r'^{head.replace('.', chr(92) + '.')}', '')])")
    if sum(k in _fused_keys(module) for k in keys) > overlap:
        return ('hint: the checkpoint is BN-fused; build the model with '
                'deploy=True')
    if getattr(module, 'deploy', None) and any('.bn.' in k for k in keys):
        return ('hint: the checkpoint is not BN-fused; build the model with '
                'deploy=False (then call switch_to_deploy() if needed)')
    mismatch = arch_mismatch_hint(module, given, prefix)
    if mismatch is not None:
        return mismatch
    return ('hint: check that the arch (and its variant) of the config '
            'matches the checkpoint')

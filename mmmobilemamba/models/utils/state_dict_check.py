"""All-or-nothing validation of a state dict before it is loaded."""
from typing import Mapping

import torch.nn as nn


class IncompatibleCheckpointError(RuntimeError):
    """A checkpoint does not match the model it is loaded into."""


def _listing(title: str, items, limit: int = 20) -> str:
    items = list(items)
    shown = '\n'.join(f'    {item}' for item in items[:limit])
    more = f'\n    ... and {len(items) - limit} more' if len(
        items) > limit else ''
    return f'  {title} ({len(items)}):\n{shown}{more}'


def check_state_dict(module: nn.Module,
                     state_dict: Mapping,
                     prefix: str = '') -> None:
    """Raise :class:`IncompatibleCheckpointError` unless the entries of
    ``state_dict`` under ``prefix`` are exactly ``module``'s own entries with
    the same shapes (a missing ``num_batches_tracked`` is tolerated).

    Called before any tensor is copied, so that a failed load leaves the
    module unchanged. The message lists the missing, unexpected and
    shape-mismatched keys and suggests the usual fix.
    """
    expected = {prefix + k: v for k, v in module.state_dict().items()}
    given = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
    missing = [
        k for k in expected
        if k not in given and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in given if k not in expected]
    mismatched = [
        f'{k}: checkpoint {tuple(given[k].shape)}, model '
        f'{tuple(expected[k].shape)}' for k in expected
        if k in given and hasattr(given[k], 'shape')
        and tuple(given[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mismatched):
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
    lines.append(_hint(module, given, prefix))
    raise IncompatibleCheckpointError('\n'.join(lines))


def _hint(module: nn.Module, given: Mapping, prefix: str) -> str:
    keys = [k[len(prefix):] for k in given]
    if any(k.startswith(('blocks1.', 'blocks2.', 'blocks3.')) for k in keys):
        return ('hint: these are the official MobileMamba key names; convert '
                'the file first with python tools/model_converters/'
                'mobilemamba_to_mmpretrain.py SRC DST')
    has_bn = any('.bn.' in k for k in keys)
    deploy = getattr(module, 'deploy', None)
    if deploy and has_bn:
        return ('hint: the checkpoint is not BN-fused; build the model with '
                'deploy=False (then call switch_to_deploy() if needed)')
    if deploy is False and keys and not has_bn:
        return ('hint: the checkpoint is BN-fused; build the model with '
                'deploy=True')
    return ('hint: check that the arch (and its variant) of the config '
            'matches the checkpoint')

"""Loading the distillation teacher's weights, official layout included."""
from typing import Dict

import torch.nn as nn
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor

from .official_checkpoint import unwrap_state_dict
from .state_dict_check import validate_state_dict_entries

#: What the official distilled recipe uses (``model_kwargs`` of the
#: ``tea_model`` in ``configs/mobilemamba/mobilemamba_*s.py``).
OFFICIAL_TEACHER = ('TResNet-L-v2 (ImageNet top-1 83.9), the file '
                    'tresnet_l_v2_83_9.pth of the official recipe')


def convert_teacher_state_dict(state_dict: Dict[str, Tensor],
                               teacher: nn.Module) -> Dict[str, Tensor]:
    """``state_dict`` in the key layout of ``teacher``'s own state dict.

    A TResNet checkpoint in the InplaceABN layout of the official teacher
    code (``body.conv1.0.weight``, ``...conv1.1.weight`` holding the signed
    InplaceABN gain) is converted by timm's own TResNet filter: keys renamed
    to timm's ``ConvNormAct`` names and gains made ``|w| + 1e-5``, the gain
    InplaceABN applies. Any other state dict is returned as it is.
    """
    model = getattr(teacher, 'model', None)
    if model is None or type(model).__name__ != 'TResNet' \
            or 'body.conv1.0.weight' not in state_dict:
        return state_dict
    from timm.models.tresnet import checkpoint_filter_fn
    return checkpoint_filter_fn(state_dict, model)


def load_teacher_checkpoint(teacher: nn.Module, filename: str) -> None:
    """Load ``filename`` into ``teacher`` strictly and all or nothing: keys
    and shapes are compared before anything is copied."""
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = convert_teacher_state_dict(
        unwrap_state_dict(checkpoint), teacher)
    expected = teacher.state_dict()
    # BN counters absent from a checkpoint (InplaceABN has none) start at 0.
    missing = sorted(
        k for k in set(expected) - set(state_dict)
        if not k.endswith('num_batches_tracked'))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f'{k}: checkpoint {tuple(state_dict[k].shape)}, teacher '
        f'{tuple(v.shape)}' for k, v in expected.items()
        if k in state_dict and tuple(getattr(state_dict[k], 'shape',
                                             ())) != tuple(v.shape))
    if missing or unexpected or mismatched:
        details = '; '.join(f'{title} ({len(keys)}): {", ".join(keys[:5])}'
                            for title, keys in (('missing', missing),
                                                ('unexpected', unexpected),
                                                ('shape mismatches',
                                                 mismatched)) if keys)
        raise ValueError(
            f'the teacher checkpoint {filename!r} does not match the teacher '
            f'{type(teacher).__name__}; nothing was loaded: {details}. The '
            f'official recipe distils from {OFFICIAL_TEACHER}.')
    validate_state_dict_entries(teacher, state_dict)
    teacher.load_state_dict(state_dict, strict=True)

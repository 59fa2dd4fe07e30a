"""Reading and converting the official MobileMamba checkpoints.

The official code names modules after its implementation (``blocks1.0.mixer.
m.attn.global_op.global_atten...``); this package names them after what they
are (``stages.0.blocks.0.mrffi.wte_mamba.ss2d...``). The conversion is a
bijection on every key of the official classifier, detection and segmentation
backbone state dicts; keys it does not know raise an error instead of being
dropped.
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional

import torch
from torch import Tensor

# Keys under which checkpoints hold the model's weights (mmengine, the
# official and DeiT-style scripts, DataParallel) and their moving average
# (mmengine's EMAHook, timm, DeiT-style scripts), searched in this order.
_PLAIN_WRAPPERS = ('state_dict', 'model', 'module', 'net')
_EMA_WRAPPERS = ('ema_state_dict', 'state_dict_ema', 'model_ema')
_WRAPPERS = _PLAIN_WRAPPERS + _EMA_WRAPPERS

# Renames applied, in order, to the part of a block key after its index.
_BLOCK_RULES = [
    (r'^(dw[01])\.m\.c\.', r'\1.conv.'),
    (r'^(dw[01])\.m\.bn\.', r'\1.bn.'),
    (r'^(ffn[01])\.m\.(pw[12])\.c\.', r'\1.\2.conv.'),
    (r'^(ffn[01])\.m\.(pw[12])\.bn\.', r'\1.\2.bn.'),
    (r'^mixer\.m\.attn\.proj\.1\.c\.', 'mrffi.proj.conv.'),
    (r'^mixer\.m\.attn\.proj\.1\.bn\.', 'mrffi.proj.bn.'),
    (r'^mixer\.m\.attn\.local_op\.dwconv3x3\.', 'mrffi.local_op.0.conv.'),
    (r'^mixer\.m\.attn\.local_op\.bn1\.', 'mrffi.local_op.0.bn.'),
    (r'^mixer\.m\.attn\.local_op\.dwconv1x1\.', 'mrffi.local_op.1.conv.'),
    (r'^mixer\.m\.attn\.local_op\.bn2\.', 'mrffi.local_op.1.bn.'),
    (r'^mixer\.m\.attn\.global_op\.(wt_filter|iwt_filter)$',
     r'mrffi.wte_mamba.\1'),
    (r'^mixer\.m\.attn\.global_op\.base_scale\.weight$',
     'mrffi.wte_mamba.base_scale'),
    (r'^mixer\.m\.attn\.global_op\.wavelet_convs\.0\.weight$',
     'mrffi.wte_mamba.wavelet_conv.weight'),
    (r'^mixer\.m\.attn\.global_op\.wavelet_scale\.0\.weight$',
     'mrffi.wte_mamba.wavelet_scale'),
    (r'^mixer\.m\.attn\.global_op\.global_atten\.(in_proj|out_proj)\.c\.',
     r'mrffi.wte_mamba.ss2d.\1.conv.'),
    (r'^mixer\.m\.attn\.global_op\.global_atten\.(in_proj|out_proj)\.bn\.',
     r'mrffi.wte_mamba.ss2d.\1.bn.'),
    (r'^mixer\.m\.attn\.global_op\.global_atten\.conv2d\.',
     'mrffi.wte_mamba.ss2d.dw_conv.'),
    (r'^mixer\.m\.attn\.global_op\.global_atten\.'
     r'(x_proj_weight|Ds|A_logs|dt_projs_weight|dt_projs_bias|out_norm\.\w+)$',
     r'mrffi.wte_mamba.ss2d.\1'),
]
# Renames of the three official stage-transition entries blocksS.{0,1,2}.
_DOWNSAMPLE_RULES = [
    (r'^0\.0\.m\.c\.', 'dw_pre.conv.'),
    (r'^0\.0\.m\.bn\.', 'dw_pre.bn.'),
    (r'^0\.1\.m\.(pw[12])\.c\.', r'ffn_pre.\1.conv.'),
    (r'^0\.1\.m\.(pw[12])\.bn\.', r'ffn_pre.\1.bn.'),
    (r'^1\.(conv[123])\.c\.', r'patch_merging.\1.conv.'),
    (r'^1\.(conv[123])\.bn\.', r'patch_merging.\1.bn.'),
    (r'^1\.se\.(fc[12])\.', r'patch_merging.se.\1.'),
    (r'^2\.0\.m\.c\.', 'dw_post.conv.'),
    (r'^2\.0\.m\.bn\.', 'dw_post.bn.'),
    (r'^2\.1\.m\.(pw[12])\.c\.', r'ffn_post.\1.conv.'),
    (r'^2\.1\.m\.(pw[12])\.bn\.', r'ffn_post.\1.bn.'),
]
_HEAD_RULES = [
    (r'^head\.bn\.', 'norm.'),
    (r'^head\.l\.', 'fc.'),
    (r'^head_dist\.bn\.', 'norm_dist.'),
    (r'^head_dist\.l\.', 'fc_dist.'),
]
# blocks2 and blocks3 start with three stage-transition entries
# (residual dw conv + FFN, PatchMerging, residual dw conv + FFN).
_NUM_DOWNSAMPLE_ENTRIES = 3


def _apply(rules, key: str, full_key: str) -> str:
    for pattern, repl in rules:
        new, count = re.subn(pattern, repl, key)
        if count:
            return new
    raise KeyError(f'unknown official MobileMamba key {full_key!r}')


def convert_backbone_key(key: str) -> str:
    """Official backbone key -> this package's backbone key."""
    match = re.match(r'^patch_embed\.(\d+)\.(c|bn)\.(.+)$', key)
    if match:
        index, kind, rest = match.groups()
        if int(index) % 2:
            raise KeyError(f'unknown official MobileMamba key {key!r}')
        return (f'patch_embed.{int(index) // 2}.'
                f'{"conv" if kind == "c" else "bn"}.{rest}')
    match = re.match(r'^blocks([123])\.(\d+)\.(.+)$', key)
    if not match:
        raise KeyError(f'unknown official MobileMamba key {key!r}')
    stage, index, rest = int(match[1]) - 1, int(match[2]), match[3]
    if stage > 0:
        if index < _NUM_DOWNSAMPLE_ENTRIES:
            return f'stages.{stage}.downsample.' + _apply(
                _DOWNSAMPLE_RULES, f'{index}.{rest}', key)
        index -= _NUM_DOWNSAMPLE_ENTRIES
    return f'stages.{stage}.blocks.{index}.' + _apply(_BLOCK_RULES, rest, key)


class Weights(NamedTuple):
    """A state dict found in a checkpoint, and what it is."""
    state_dict: Dict[str, Tensor]
    #: Whether these are the exponential moving average of the weights.
    ema: bool
    #: Where they are in the file, e.g. ``['model_ema']``.
    where: str


def _strip_module(key: str) -> str:
    while key.startswith('module.'):
        key = key[len('module.'):]
    return key


def _saved_by_ema_hook(checkpoint) -> bool:
    """Whether mmengine's ``EMAHook`` saved ``checkpoint``: it stores the
    EMA weights as ``state_dict`` and the plain ones, with the averaged
    model's ``steps`` counter, as ``ema_state_dict``."""
    return isinstance(checkpoint.get('state_dict'), dict) and isinstance(
        checkpoint.get('ema_state_dict'), dict) and \
        'steps' in checkpoint['ema_state_dict']


def find_weights(checkpoint) -> List[Weights]:
    """Every state dict of ``checkpoint``, the file's main one first.

    The wrappers are searched in the order of :data:`_WRAPPERS`, nested ones
    included, and ``module.`` prefixes are dropped; keys with an ``ema.``
    prefix are EMA weights, and so is mmengine's ``EMAHook``'s
    ``state_dict`` (see :func:`_saved_by_ema_hook`).
    """
    if not isinstance(checkpoint, dict):
        return []
    swapped = _saved_by_ema_hook(checkpoint)
    found = []

    def visit(obj, where, ema):
        inner = [k for k in _WRAPPERS if isinstance(obj.get(k), dict)]
        for key in inner:
            inner_ema = ema or key in _EMA_WRAPPERS
            if swapped and not where:
                inner_ema = key == 'state_dict'
            visit(obj[key], f'{where}[{key!r}]', inner_ema)
        if inner or not obj:
            return
        plain, averaged = OrderedDict(), OrderedDict()
        for key, value in obj.items():
            if swapped and where == "['ema_state_dict']" and key == 'steps':
                continue
            key = _strip_module(key)
            if key.startswith('ema.'):
                averaged[_strip_module(key[len('ema.'):])] = value
            else:
                (averaged if ema else plain)[key] = value
        where = where or '(top level)'
        if plain:
            found.append(Weights(plain, False, where))
        if averaged:
            found.append(
                Weights(averaged, True, where if ema else where + ' ema.*'))

    visit(checkpoint, '', False)
    return found


def select_weights(checkpoint, ema: Optional[bool] = None) -> Weights:
    """The state dict of ``checkpoint``: its main one (``ema=None``), its
    EMA weights (``ema=True``) or its plain weights (``ema=False``)."""
    found = find_weights(checkpoint)
    if not found:
        raise ValueError('the checkpoint holds no state dict (expected a '
                         'dict of tensors, possibly under one of '
                         f'{_WRAPPERS})')
    if ema is None:
        return found[0]
    for weights in found:
        if weights.ema == ema:
            return weights
    wanted, held = ('EMA', 'plain') if ema else ('plain', 'EMA')
    where = ', '.join(w.where for w in found)
    raise ValueError(f'the checkpoint holds no {wanted} weights, only '
                     f'{held} ones ({where}); to take those, leave out '
                     f'--{"" if ema else "no-"}ema (ema={ema})')


def unwrap_state_dict(checkpoint,
                      ema: Optional[bool] = None) -> Dict[str, Tensor]:
    """Take the state dict out of a checkpoint: flat, or under one of
    :data:`_WRAPPERS`, with or without ``module.`` prefixes; see
    :func:`select_weights` for ``ema``."""
    return select_weights(checkpoint, ema).state_dict


def convert_official_state_dict(state_dict: Dict[str, Tensor]) -> Dict:
    """Convert an official state dict to this package's naming.

    * a classifier (``patch_embed.*``, ``blocks*``, ``head*``) becomes the
      state dict of an mmpretrain ``ImageClassifier``: ``backbone.*`` and
      ``head.*`` (:class:`MobileMambaClsHead`);
    * a detector or segmentor (``backbone.*`` plus necks and heads) keeps its
      non-backbone entries unchanged and has its backbone entries renamed.
    """
    converted = OrderedDict()
    is_downstream = any(k.startswith('backbone.') for k in state_dict)
    for key, value in state_dict.items():
        if is_downstream:
            new_key = ('backbone.' + convert_backbone_key(key[9:])
                       if key.startswith('backbone.') else key)
        elif key.startswith(('head.', 'head_dist.')):
            new_key = 'head.' + _apply(_HEAD_RULES, key, key)
        else:
            new_key = 'backbone.' + convert_backbone_key(key)
        converted[new_key] = value
    return converted


def read_official_checkpoint(path: str):
    """Read an official checkpoint safely (``weights_only=True``). Only plain
    containers, tensors and ``argparse`` namespaces (the official training
    script saves its arguments) may be unpickled."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        try:
            return torch.load(path, 'cpu', weights_only=True)
        except OSError:
            raise
        except Exception as err:
            raise RuntimeError(
                f'cannot read {path!r} as a checkpoint with weights_only '
                f'loading ({type(err).__name__}: {err}). Checkpoints are '
                'untrusted input: a file that needs arbitrary code to be '
                'unpickled is refused.') from err


def load_official_checkpoint(path: str,
                             ema: Optional[bool] = None) -> Dict[str, Tensor]:
    """The state dict of an official checkpoint (see
    :func:`read_official_checkpoint` and :func:`select_weights`)."""
    return unwrap_state_dict(read_official_checkpoint(path), ema)

"""A checkpoint entry that cannot be loaded as it is (a Python number or
list, a meta, sparse or complex tensor, NaN/Inf values) is refused before
anything is copied: on every load path, in the backbone or the head, every
parameter and buffer of the model stays bit-identical."""
import copy
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.model.weight_init import PretrainedInit
from mmengine.runner import load_checkpoint
from mmpretrain.apis import get_model
from mmpretrain.registry import MODELS

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import IncompatibleCheckpointError

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_models'))
from tiny_arch import TINY  # noqa: E402

CLASSIFIER = dict(
    type='mmmobilemamba.MobileMambaClassifier',
    backbone=dict(type='mmmobilemamba.MobileMamba', arch=TINY),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmmobilemamba.MobileMambaClsHead', num_classes=5,
        in_channels=80))

# How each bad entry is made from the tensor it replaces.
BAD_ENTRIES = {
    'python float': lambda t: 0.5,
    'list': lambda t: t.tolist(),
    'meta tensor': lambda t: t.to('meta'),
    'sparse tensor': lambda t: t.to_sparse(),
    'complex tensor': lambda t: t.to(torch.complex64),
    'NaN weight': lambda t: torch.full_like(t, float('nan')),
    'Inf running_var': lambda t: torch.full_like(t, float('inf')),
}


def build_classifier(**head):
    cfg = copy.deepcopy(CLASSIFIER)
    cfg['head'].update(head)
    return MODELS.build(cfg)


def random_state_dict(model):
    return {
        k: torch.randn_like(v) if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
    }


def bad_state_dict(model, kind, part):
    """A full, random state dict of ``model`` with one bad entry in
    ``part`` (the last one of its kind, so that the rest would be copied
    first)."""
    state = random_state_dict(model)
    suffix = '.running_var' if kind == 'Inf running_var' else '.weight'
    key = [k for k in state if k.startswith(part) and k.endswith(suffix)][-1]
    state[key] = BAD_ENTRIES[kind](state[key])
    return state, key


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_bit_identical(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    changed = [
        k for k in before if after[k].dtype != before[k].dtype
        or not torch.equal(after[k].reshape(-1).view(torch.uint8),
                           before[k].reshape(-1).view(torch.uint8))
    ]
    assert not changed, f'{len(changed)} tensors changed, e.g. {changed[:3]}'


def load(path_kind, model, state, tmp_path):
    """Load ``state`` into ``model`` the way ``path_kind`` does."""
    if path_kind == 'load_state_dict':
        return model.load_state_dict(state)
    file = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=state), file)
    if path_kind == 'load_checkpoint':
        return load_checkpoint(model, file, map_location='cpu')
    if path_kind == 'init_cfg=Pretrained':
        # What BaseModule.init_weights runs for the model's init_cfg.
        return PretrainedInit(checkpoint=file)(model)
    assert path_kind == 'get_model(pretrained=)'
    return get_model(Config(dict(model=CLASSIFIER)), pretrained=file)


@pytest.mark.parametrize('part', ['backbone.', 'head.'])
@pytest.mark.parametrize('path_kind', [
    'load_state_dict', 'load_checkpoint', 'init_cfg=Pretrained',
    'get_model(pretrained=)'
])
@pytest.mark.parametrize('kind', list(BAD_ENTRIES))
def test_bad_entry_is_refused_and_nothing_is_loaded(kind, path_kind, part,
                                                    tmp_path):
    model = build_classifier()
    before = snapshot(model)
    state, key = bad_state_dict(model, kind, part)
    with pytest.raises(
            IncompatibleCheckpointError, match='nothing was loaded') as info:
        load(path_kind, model, state, tmp_path)
    assert key in str(info.value)
    assert_bit_identical(model, before)


@pytest.mark.parametrize('kind', list(BAD_ENTRIES))
def test_backbone_init_cfg_pretrained_refuses_bad_entry(kind, tmp_path):
    """The detection and segmentation configs' path: the backbone's own
    ``init_cfg`` with ``prefix='backbone.'``."""
    state, key = bad_state_dict(build_classifier(), kind, 'backbone.')
    file = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=state), file)
    backbone = MobileMamba(
        TINY,
        init_cfg=dict(type='Pretrained', checkpoint=file, prefix='backbone.'))
    before = snapshot(backbone)
    with pytest.raises(
            IncompatibleCheckpointError, match='nothing was loaded') as info:
        backbone.init_weights()
    assert key[len('backbone.'):] in str(info.value)
    assert_bit_identical(backbone, before)


@pytest.mark.parametrize('strict', [True, False])
def test_failed_load_state_dict_restores_the_model(strict):
    """torch raises for a head of another shape only after the backbone is
    copied; the model must come out of the failure as it went in."""
    model = build_classifier()
    before = snapshot(model)
    state = random_state_dict(build_classifier(num_classes=7))
    if strict:
        state.pop('head.fc.bias')
    with pytest.raises(RuntimeError, match='head.fc.weight'):
        model.load_state_dict(state, strict=strict)
    assert_bit_identical(model, before)


def test_every_bad_entry_is_named_with_the_fix():
    """The public check the converter calls before it writes anything."""
    from mmmobilemamba.models.utils import validate_state_dict_entries
    model = build_classifier()
    state = random_state_dict(model)
    bad = {}
    for kind, make in BAD_ENTRIES.items():
        suffix = '.running_var' if kind == 'Inf running_var' else '.weight'
        key = [k for k in state if k.endswith(suffix) and k not in bad][-1]
        bad[key] = kind
        state[key] = make(state[key])
    with pytest.raises(IncompatibleCheckpointError) as info:
        validate_state_dict_entries(model, state)
    message = str(info.value)
    for key in bad:
        assert key in message
    for words in ('a float, not a torch.Tensor', 'a list, not', 'meta tensor',
                  'torch.sparse_coo tensor', 'torch.complex64 for a real',
                  'NaN and 0 Inf', '0 NaN and', 'earlier checkpoint'):
        assert words in message
    validate_state_dict_entries(model, random_state_dict(model))

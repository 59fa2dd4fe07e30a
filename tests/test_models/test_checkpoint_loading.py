"""Strict, all-or-nothing, weights_only checkpoint loading and conversion."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import (IncompatibleCheckpointError,
                                        convert_backbone_key,
                                        convert_official_state_dict,
                                        load_official_checkpoint,
                                        unwrap_state_dict)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTER = osp.join(REPO, 'tools', 'model_converters',
                     'mobilemamba_to_mmpretrain.py')


def snapshot(model):
    return copy.deepcopy(model.state_dict())


def assert_unchanged(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        assert torch.equal(after[key], before[key]), key


def test_other_variant_is_refused_and_model_unchanged(tmp_path):
    model = MobileMamba('b1')
    before = snapshot(model)
    other = {
        f'backbone.{k}': v
        for k, v in MobileMamba('t4').state_dict().items()
    }
    path = tmp_path / 't4.pth'
    torch.save(dict(state_dict=other), path)
    with pytest.raises(IncompatibleCheckpointError) as info:
        # mmengine's load_checkpoint is non-strict by default: the backbone
        # is strict about its own weights anyway.
        load_checkpoint(model, str(path), revise_keys=[(r'^backbone\.', '')])
    message = str(info.value)
    assert 'nothing was loaded' in message
    assert 'shape mismatches' in message
    assert ('patch_embed.0.conv.weight: checkpoint (22, 3, 3, 3), model '
            '(25, 3, 3, 3)') in message
    assert 'missing keys' in message  # B1 has more blocks than T4
    assert_unchanged(model, before)


def test_missing_and_unexpected_keys_are_listed():
    model = MobileMamba('t2')
    before = snapshot(model)
    state = dict(model.state_dict())
    state.pop('stages.2.blocks.1.mrffi.wte_mamba.ss2d.Ds')
    state['stages.2.blocks.1.extra'] = torch.zeros(1)
    state = {
        k: torch.randn_like(v.float()).to(v.dtype)
        for k, v in state.items()
    }
    with pytest.raises(
            IncompatibleCheckpointError,
            match=r'(?s)missing keys \(1\).*ss2d\.Ds.*'
            r'unexpected keys \(1\).*blocks\.1\.extra'):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_unconverted_official_checkpoint_gets_a_hint(tmp_path):
    official = {
        'blocks1.0.dw0.m.c.weight': torch.zeros(144, 1, 3, 3),
        'patch_embed.0.c.weight': torch.zeros(18, 3, 3, 3)
    }
    with pytest.raises(
            IncompatibleCheckpointError, match='mobilemamba_to_mmpretrain.py'):
        MobileMamba('t2').load_state_dict(official)


def test_fused_unfused_mismatch_gets_a_hint():
    fused = MobileMamba('t2')
    fused.switch_to_deploy()
    with pytest.raises(
            IncompatibleCheckpointError,
            match='BN-fused; build the model with deploy=True'):
        MobileMamba('t2').load_state_dict(fused.state_dict())
    with pytest.raises(
            IncompatibleCheckpointError,
            match='not BN-fused; build the model with '
            'deploy=False'):
        MobileMamba(
            't2', deploy=True).load_state_dict(MobileMamba('t2').state_dict())


def test_checkpoint_without_num_batches_tracked_loads():
    source = MobileMamba('t2')
    state = {
        k: v
        for k, v in source.state_dict().items()
        if not k.endswith('num_batches_tracked')
    }
    MobileMamba('t2').load_state_dict(state, strict=False)


def test_pretrained_init_cfg_with_wrong_checkpoint_raises(tmp_path):
    """init_weights() re-initialises the children before the Pretrained load
    fails, but not one tensor of the checkpoint reaches the model."""
    source = {
        f'backbone.{k}': torch.randn_like(v) if v.is_floating_point() else v
        for k, v in MobileMamba('b1').state_dict().items()
    }
    source.pop('backbone.stages.2.blocks.1.ffn1.pw2.conv.weight')
    path = tmp_path / 'cls.pth'
    torch.save(dict(state_dict=source), path)
    model = MobileMamba(
        'b1',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises(IncompatibleCheckpointError):
        model.init_weights()
    shared = 0
    for key, value in model.state_dict().items():
        loaded = source.get(f'backbone.{key}')
        if (loaded is not None and loaded.shape == value.shape
                and loaded.is_floating_point() and loaded.std() > 0):
            shared += 1
            assert not torch.equal(value, loaded), key
    assert shared > 100


@pytest.mark.parametrize('wrap',
                         ['flat', 'net', 'model', 'state_dict', 'module'])
def test_official_wrappers_are_unwrapped(wrap, tmp_path):
    state = {'patch_embed.0.c.weight': torch.ones(1)}
    if wrap == 'module':
        checkpoint = {'module.' + k: v for k, v in state.items()}
    elif wrap == 'flat':
        checkpoint = state
    else:
        checkpoint = {wrap: state, 'epoch': 3}
    path = tmp_path / 'ckpt.pth'
    torch.save(checkpoint, path)
    assert list(load_official_checkpoint(str(path))) == list(state)


def test_unwrap_rejects_non_state_dicts():
    with pytest.raises(ValueError, match='holds no state dict'):
        unwrap_state_dict({})


def test_pickled_code_is_refused_not_executed(tmp_path):
    marker = tmp_path / 'pwned'

    class Exploit:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    path = tmp_path / 'evil.pth'
    torch.save({'model': {'x': torch.zeros(1)}, 'payload': Exploit()}, path)
    with pytest.raises(RuntimeError, match='weights_only'):
        load_official_checkpoint(str(path))
    assert not marker.exists()


def test_truncated_and_missing_files(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save({'model': {'x': torch.zeros(100)}}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RuntimeError, match='cannot read'):
        load_official_checkpoint(str(path))
    with pytest.raises(FileNotFoundError):
        load_official_checkpoint(str(tmp_path / 'absent.pth'))


def test_argparse_namespace_in_official_checkpoint_is_allowed(tmp_path):
    import argparse
    path = tmp_path / 'ckpt.pth'
    torch.save(
        {
            'model': {
                'patch_embed.0.c.weight': torch.zeros(1)
            },
            'args': argparse.Namespace(lr=1e-3)
        }, path)
    assert list(load_official_checkpoint(
        str(path))) == ['patch_embed.0.c.weight']


def test_unknown_official_key_is_an_error():
    with pytest.raises(KeyError, match='unknown official MobileMamba key'):
        convert_backbone_key('blocks1.0.mixer.m.attn.new_thing.weight')
    with pytest.raises(KeyError, match='unknown official MobileMamba key'):
        convert_official_state_dict({'head.extra.weight': torch.zeros(1)})


def test_every_official_key_is_converted_one_to_one(fixtures_dir):
    """All official listings convert to distinct keys that are exactly the
    keys (and shapes) of the corresponding model here."""
    from mmpretrain import get_model
    for arch in ('t2', 't4', 's6', 'b1'):
        with open(osp.join(fixtures_dir, 'keys', f'{arch}_cls.tsv')) as f:
            rows = [line.rstrip('\n').split('\t') for line in f if line[0]]
        official = {
            key:
            torch.empty(
                eval(shape),
                dtype=torch.int64 if dtype == 'int64' else torch.float32)
            for key, shape, dtype in rows
        }
        converted = convert_official_state_dict(official)
        assert len(converted) == len(official)
        model = get_model(
            osp.join(REPO, 'configs', 'mobilemamba',
                     f'mobilemamba-{arch}_8xb128_in1k.py'))
        expected = model.state_dict()
        assert converted.keys() == expected.keys()
        for key, value in converted.items():
            assert value.shape == expected[key].shape, key


def test_converter_cli(tmp_path, fixtures_dir, make_weights):
    state = make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', 's6_cls.tsv'), seed=0)
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'model': {'module.' + k: v for k, v in state.items()}}, src)
    result = subprocess.run([sys.executable, CONVERTER, src, dst],
                            capture_output=True,
                            text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert 'MobileMamba-S6' in result.stdout
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['arch'] == 's6'
    torch.testing.assert_close(checkpoint['state_dict']['head.fc.weight'],
                               state['head.l.weight'])

    # A checkpoint of something else is refused with the reason.
    torch.save({'net': {'foo.weight': torch.zeros(1)}}, src)
    result = subprocess.run([sys.executable, CONVERTER, src, dst],
                            capture_output=True,
                            text=True,
                            cwd=REPO)
    assert result.returncode != 0
    assert "unknown official MobileMamba key 'foo.weight'" in result.stderr

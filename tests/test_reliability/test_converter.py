"""The official-checkpoint converter never destroys a file, takes the
weights it says it takes, and names what is wrong with a checkpoint.

``tools/model_converters/mobilemamba_to_mmpretrain.py SRC DST``:

* refuses a DST that is SRC (same path, symlink or hard link);
* writes DST through a temporary file in DST's folder and ``os.replace``,
  so that a failed or interrupted write leaves a previous DST as it was and
  no partial file behind;
* unwraps ``model``, ``module``, ``net``, ``state_dict``,
  ``ema_state_dict``, ``state_dict_ema``, ``model_ema`` and ``ema.``-prefixed
  keys, says which weights it took when a file holds plain and EMA ones, and
  takes the other ones with ``--ema`` / ``--no-ema``;
* names the missing, resized or invalid entries of a checkpoint that is
  almost a MobileMamba one, and writes nothing.
"""
import errno
import io
import os
import os.path as osp
import runpy
import sys

import pytest
import torch

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import IncompatibleCheckpointError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTER = osp.join(REPO, 'tools', 'model_converters',
                     'mobilemamba_to_mmpretrain.py')


@pytest.fixture(scope='module')
def t2_weights(fixtures_dir, make_weights):
    """Official T2 classifier weights (the fixtures' seed-0 generator)."""
    return make_weights.make_state_dict(
        osp.join(fixtures_dir, 'keys', 't2_cls.tsv'), seed=0)


def convert(monkeypatch, *args):
    """Run the converter in-process with ``args``."""
    monkeypatch.setattr(sys, 'argv', [CONVERTER, *map(str, args)])
    runpy.run_path(CONVERTER, run_name='__main__')


def load(path):
    return torch.load(path, weights_only=True)


def shifted(state_dict, offset):
    """``state_dict`` with ``offset`` added to its floating-point tensors."""
    return {
        k: v + offset if v.is_floating_point() else v
        for k, v in state_dict.items()
    }


# ------------------------------------------------------- the files it writes


@pytest.mark.parametrize('link', ['same path', 'symlink', 'hard link'])
def test_dst_that_is_src_is_refused(link, t2_weights, tmp_path, monkeypatch,
                                    capsys):
    src = tmp_path / 'mobilemamba_t2.pth'
    torch.save(dict(model=t2_weights, model_ema=t2_weights, epoch=299), src)
    before = src.read_bytes()
    dst = src
    if link == 'symlink':
        dst = tmp_path / 'converted.pth'
        dst.symlink_to(src)
    elif link == 'hard link':
        dst = tmp_path / 'converted.pth'
        os.link(src, dst)
    with pytest.raises(SystemExit):
        convert(monkeypatch, src, dst)
    assert 'is the source checkpoint' in capsys.readouterr().err
    assert src.read_bytes() == before


@pytest.mark.parametrize(
    'error',
    [OSError(errno.ENOSPC, 'No space left on device'),
     KeyboardInterrupt()],
    ids=['disk full', 'interrupted'])
def test_failed_write_keeps_the_previous_dst(error, t2_weights, tmp_path,
                                             monkeypatch):
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=t2_weights), src)
    convert(monkeypatch, src, dst)
    good = dst.read_bytes()
    real_save = torch.save

    def save_part_then_fail(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        part = buffer.getvalue()[:4096]
        if isinstance(f, (str, os.PathLike)):
            with open(f, 'wb') as file:
                file.write(part)
        else:
            f.write(part)
        raise error

    monkeypatch.setattr(torch, 'save', save_part_then_fail)
    with pytest.raises(type(error)):
        convert(monkeypatch, src, dst)
    assert dst.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['converted.pth', 'official.pth']


# ---------------------------------------------------- the weights it takes


@pytest.mark.parametrize('wrapper', [
    'module', 'ema_state_dict', 'state_dict_ema', 'ema. prefix',
    'module in state_dict'
])
def test_usual_wrappers_are_unwrapped(wrapper, t2_weights, tmp_path,
                                      monkeypatch):
    if wrapper == 'ema. prefix':
        checkpoint = {f'ema.{k}': v for k, v in t2_weights.items()}
    elif wrapper == 'module in state_dict':
        checkpoint = dict(state_dict=dict(module=t2_weights))
    else:
        checkpoint = {wrapper: t2_weights, 'epoch': 3}
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(checkpoint, src)
    convert(monkeypatch, src, dst)
    converted = load(dst)
    assert converted['meta']['arch'] == 't2'
    assert torch.equal(
        converted['state_dict']['backbone.patch_embed.0.conv.weight'],
        t2_weights['patch_embed.0.c.weight'])


@pytest.mark.parametrize('flag,taken', [(None, 'plain'), ('--ema', 'EMA'),
                                        ('--no-ema', 'plain')])
def test_says_which_of_plain_and_ema_weights_it_took(flag, taken, t2_weights,
                                                     tmp_path, monkeypatch,
                                                     capsys):
    ema = shifted(t2_weights, 1.0)
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=t2_weights, model_ema=ema, epoch=299), src)
    convert(monkeypatch, src, dst, *([flag] if flag else []))
    out = capsys.readouterr().out
    expected = ema if taken == 'EMA' else t2_weights
    other = 'plain' if taken == 'EMA' else 'EMA'
    assert f"took the {taken} weights ['model" in out
    assert f'also holds {other} weights' in out
    converted = load(dst)
    assert converted['meta']['ema'] is (taken == 'EMA')
    assert torch.equal(
        converted['state_dict']['backbone.patch_embed.0.conv.weight'],
        expected['patch_embed.0.c.weight'])


@pytest.mark.parametrize('layout', ['official', 'timm', 'mmengine', 'prefix'])
def test_plain_and_ema_weights_of_each_layout(layout):
    from mmmobilemamba.models.utils.official_checkpoint import \
        unwrap_state_dict
    plain, ema = {'w': torch.zeros(2)}, {'w': torch.ones(2)}
    if layout == 'official':  # DeiT-style training script
        checkpoint = dict(model=plain, model_ema=ema, epoch=3)
    elif layout == 'timm':
        checkpoint = dict(state_dict=plain, state_dict_ema=ema)
    elif layout == 'mmengine':
        # EMAHook swaps them: 'state_dict' holds the averaged weights.
        checkpoint = dict(
            meta={},
            state_dict=ema,
            ema_state_dict={
                'module.w': plain['w'],
                'steps': torch.tensor(10)
            })
    else:
        checkpoint = dict(state_dict={'w': plain['w'], 'ema.w': ema['w']})
    assert unwrap_state_dict(checkpoint, ema=False).keys() == {'w'}
    assert torch.equal(
        unwrap_state_dict(checkpoint, ema=False)['w'], plain['w'])
    assert torch.equal(unwrap_state_dict(checkpoint, ema=True)['w'], ema['w'])


def test_asking_for_absent_ema_weights_is_an_error(t2_weights, tmp_path,
                                                   monkeypatch):
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=t2_weights), src)
    with pytest.raises(
            ValueError, match=r"(?s)no EMA weights.*\['model'\].*--ema"):
        convert(monkeypatch, src, dst, '--ema')
    assert not dst.exists()


# ------------------------------------------------ what is wrong with a file


@pytest.mark.parametrize('damage', ['missing', 'resized'])
def test_one_missing_or_resized_tensor_is_named(damage, t2_weights, tmp_path,
                                                monkeypatch):
    key = 'blocks2.3.mixer.m.attn.global_op.global_atten.A_logs'
    weights = dict(t2_weights)
    if damage == 'missing':
        del weights[key]
        expected = (r'(?s)MobileMamba-T2.*539 of 540.*missing.*'
                    r'stages\.1\.blocks\.0\.mrffi\.wte_mamba\.ss2d\.A_logs')
    else:
        weights[key] = torch.zeros(3, 1)
        expected = (rf'(?s)MobileMamba-T2.*539 of 540.*resized.*{key}.*'
                    r'file \(3, 1\).*T2 \(\d+, 1\)')
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=weights), src)
    with pytest.raises(IncompatibleCheckpointError, match=expected):
        convert(monkeypatch, src, dst)
    assert not dst.exists()


def test_invalid_head_entry_is_named_and_nothing_written(
        t2_weights, tmp_path, monkeypatch):
    weights = dict(t2_weights)
    weights['head.l.weight'] = weights['head.l.weight'].clone()
    weights['head.l.weight'][0, 0] = float('nan')
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=weights), src)
    with pytest.raises(RuntimeError, match=r'(?s)head\.fc\.weight.*NaN'):
        convert(monkeypatch, src, dst)
    assert not dst.exists()


def test_arch_mismatch_hint_names_the_files_arch(t2_weights, tmp_path,
                                                 monkeypatch):
    from mmmobilemamba.models.utils.checkpoint_arch import arch_mismatch_hint
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=t2_weights), src)
    convert(monkeypatch, src, dst)
    converted = load(dst)
    assert converted['meta']['arch'] == 't2'
    hint = arch_mismatch_hint(
        MobileMamba('b1'), converted['state_dict'], prefix='backbone.')
    assert 'MobileMamba-T2' in hint and "arch='t2'" in hint
    assert 'B1' in hint
    assert arch_mismatch_hint(
        MobileMamba('t2'), converted['state_dict'], prefix='backbone.') is None

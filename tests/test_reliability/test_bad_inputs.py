"""Bad input: every row raises an error that names the problem and the fix,
and a failed load leaves the model's weights as they were.

Rows tested elsewhere (not repeated here):

=========================================  ====================================
bad input                                  test
=========================================  ====================================
unknown arch                               ``test_models/test_mobilemamba_
                                           backbone.py::test_unknown_arch_lists
                                           _valid_ones``
custom arch dict, missing/extra keys       ``...::test_custom_arch_dict_keys_
                                           are_checked``
wrong input channels                       ``...::test_wrong_input_channels``
input smaller than the total stride        ``...::test_input_too_small``
non-4D input                               ``...::test_non_4d_input``
``out_indices`` / ``frozen_stages`` out    ``...::test_out_indices_out_of_
of range                                   range``, ``...::test_frozen_stages_
                                           out_of_range``
another variant, mmengine                  ``test_models/test_checkpoint_
``load_checkpoint``                        loading.py::test_other_variant_is_
                                           refused_and_model_unchanged``
missing / unexpected keys                  ``...::test_missing_and_unexpected_
                                           keys_are_listed``
truncated file, pickled code, official     ``...::test_truncated_and_missing_
reader                                     files``, ``...::test_pickled_code_
                                           is_refused_not_executed``
=========================================  ====================================

Here: the same inputs through the other paths users take (a config built by
the registry, ``init_cfg=dict(type='Pretrained')``, mmengine's
``load_checkpoint``, mmpretrain's ``get_model(..., pretrained=...)`` and
``tools/model_converters/mobilemamba_to_mmpretrain.py``), the sizes that are
not multiples of the stride, and an explicitly requested kernel backend
that is not there.

Input sizes: any ``H, W`` at least the stride of the deepest requested level
(16, 16, 32, 64 for levels 0-3) work; every stride-2 layer zero-pads odd
sizes, so level ``i`` has ``ceil(H / s_i) x ceil(W / s_i)`` pixels and no
resizing or padding to a multiple of the stride is needed.
"""
import contextlib
import copy
import math
import os
import os.path as osp
import runpy
import sys
import warnings

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmmobilemamba.models import MobileMamba
from mmmobilemamba.models.utils import IncompatibleCheckpointError
from mmmobilemamba.ops import backends, selective_scan, use_backend
from mmmobilemamba.ops.mamba_ssm_selective_scan import mamba_ssm_available

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CLS = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                   'mobilemamba-t2_1xb32_toy-cls.py')
CONVERTER = osp.join(REPO, 'tools', 'model_converters',
                     'mobilemamba_to_mmpretrain.py')
# A narrow custom arch, to keep the rows fast.
SMALL = dict(
    MobileMamba.arch_zoo['t2'], embed_dims=[48, 64, 80], depths=[1, 1, 1])


def snapshot(model):
    return copy.deepcopy(model.state_dict())


def assert_unchanged(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        assert torch.equal(after[key], before[key]), key


class Payload:
    """Unpickles as a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return MobileMamba(SMALL)


@pytest.fixture
def bad_files(tmp_path, small_model):
    """Checkpoint files of ``small_model``'s layout that cannot be read, by
    kind, and the marker file that the pickled code would create."""
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=small_model.state_dict()), good)
    data = good.read_bytes()
    files = dict(
        truncated=tmp_path / 'truncated.pth',
        garbage=tmp_path / 'garbage.pth',
        empty=tmp_path / 'empty.pth',
        pickled_code=tmp_path / 'pickled_code.pth')
    files['truncated'].write_bytes(data[:len(data) // 2])
    files['garbage'].write_bytes(b'not a checkpoint' * 8)
    files['empty'].write_bytes(b'')
    marker = tmp_path / 'pwned'
    torch.save(
        dict(
            state_dict={
                k: torch.randn_like(v.float()).to(v.dtype)
                for k, v in small_model.state_dict().items()
            },
            payload=Payload(marker)), files['pickled_code'])
    return files, marker


# ---------------------------------------------------------------- arch / args


def test_unknown_arch_through_a_config():
    """The registry keeps the message (with the valid names) intact."""
    from mmpretrain import get_model
    with pytest.raises(
            ValueError,
            match=r"unknown MobileMamba arch 't3'; choose one of "
            r"\['b1', 'b2', 'b4', 's6', 't2', 't4'\] or pass a dict"):
        get_model(TOY_CLS, backbone=dict(arch='t3'))


# ---------------------------------------------------------------- input shape


@pytest.mark.parametrize('size', [(64, 64), (65, 127), (100, 77), (64, 257)])
def test_sizes_not_multiple_of_the_stride_are_padded(size):
    model = MobileMamba(SMALL, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    assert [tuple(o.shape[2:]) for o in outs] == [
        tuple(math.ceil(s / stride) for s in size)
        for stride in MobileMamba.level_strides
    ]


@pytest.mark.parametrize('out_index,ok,too_small', [(0, 16, 15), (1, 16, 15),
                                                    (2, 32, 31), (3, 64, 63)])
def test_minimum_size_is_the_stride_of_the_deepest_level(
        out_index, ok, too_small):
    out_indices = tuple(sorted({0, out_index}))
    model = MobileMamba(SMALL, out_indices=out_indices).eval()
    with torch.no_grad():
        model(torch.randn(1, 3, ok, 2 * ok))
    with pytest.raises(
            ValueError,
            match=rf'input of size {too_small}x{2 * ok} is smaller than the '
            rf'total stride {ok} .* resize inputs to at least {ok}x{ok} or '
            'request shallower out_indices'):
        model(torch.randn(1, 3, too_small, 2 * ok))


@pytest.mark.parametrize('shape', [(3, 64, 64), (1, 1, 3, 64, 64), (64, )])
def test_non_4d_input_is_named(shape):
    with pytest.raises(
            ValueError,
            match=r'expects a 4D \(B, C, H, W\) input, got shape ' +
            repr(shape).replace('(', r'\(').replace(')', r'\)')):
        MobileMamba(SMALL)(torch.randn(*shape))


def test_input_checks_trace_without_warnings():
    """The checks read only ``x.dim()`` and ``x.shape``, as constants of
    the example input while tracing, without a TracerWarning (the stem is
    enough to run them)."""
    model = MobileMamba(SMALL, out_indices=0).eval()
    x = torch.randn(2, 3, 32, 48)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter('always')
        traced = torch.jit.trace(model, x)
    backbone = osp.join('backbones', 'mobilemamba.py')
    assert not [
        f'{w.filename}:{w.lineno}: {w.message}'
        for w in records if issubclass(w.category, torch.jit.TracerWarning)
        and w.filename.endswith(backbone)
    ]
    torch.testing.assert_close(traced(x), model(x))


# ---------------------------------------------------------------- checkpoints


def test_other_variant_through_get_model(tmp_path):
    """mmpretrain's ``get_model(config, pretrained=...)`` with a T4
    classifier checkpoint for the T2 toy config lists the shape mismatches."""
    from mmpretrain import get_model
    t4 = {
        f'backbone.{k}': v
        for k, v in MobileMamba('t4').state_dict().items()
    }
    path = tmp_path / 't4.pth'
    torch.save(dict(state_dict=t4), path)
    with pytest.raises(IncompatibleCheckpointError) as info:
        get_model(TOY_CLS, pretrained=str(path))
    message = str(info.value)
    assert 'nothing was loaded' in message
    assert ('backbone.patch_embed.0.conv.weight: checkpoint (22, 3, 3, 3), '
            'model (18, 3, 3, 3)') in message
    assert "build the model with arch='t4'" in message


def test_other_variant_through_pretrained_init_cfg(tmp_path, small_model):
    path = tmp_path / 'other.pth'
    other = MobileMamba(dict(SMALL, embed_dims=[48, 64, 96]))
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in other.state_dict().items()
        }), path)
    model = MobileMamba(
        SMALL,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises(
            IncompatibleCheckpointError,
            match=r'(?s)shape mismatches.*stages\.2\..*checkpoint \(96, '):
        model.init_weights()


@pytest.mark.parametrize('kind', ['truncated', 'garbage', 'empty'])
def test_unreadable_file_through_pretrained_init_cfg(kind, bad_files):
    files, _ = bad_files
    model = MobileMamba(
        SMALL,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(files[kind]),
            prefix='backbone.'))
    before = snapshot(model)
    with pytest.raises(
            RuntimeError,
            match='(?s)cannot read the pretrained checkpoint .*'
            f'{kind}.pth.*must be downloaded or saved again'):
        model.init_weights()
    assert_unchanged(model, before)


def test_truncated_file_through_load_checkpoint(bad_files, small_model):
    """torch names the problem (a corrupted file) and its causes."""
    files, _ = bad_files
    before = snapshot(small_model)
    with pytest.raises(
            RuntimeError,
            match='checkpoint file is corrupted.*not saved properly, was '
            'transferred incorrectly'):
        load_checkpoint(small_model, str(files['truncated']))
    assert_unchanged(small_model, before)


def test_truncated_file_through_get_model(bad_files):
    from mmpretrain import get_model
    files, _ = bad_files
    with pytest.raises(RuntimeError, match='checkpoint file is corrupted'):
        get_model(TOY_CLS, pretrained=str(files['truncated']))


def test_pickled_code_refused_by_load_checkpoint(bad_files, small_model):
    """mmengine reads checkpoints with torch's default, ``weights_only``
    loading: the payload is named and refused, not run."""
    files, marker = bad_files
    before = snapshot(small_model)
    with pytest.raises(
            Exception,
            match=r'(?s)Weights only load failed.*unsupported GLOBAL '
            r'(posix|nt)\.system'):
        load_checkpoint(small_model, str(files['pickled_code']))
    assert not marker.exists()
    assert_unchanged(small_model, before)


def test_pickled_code_refused_by_pretrained_init_cfg(bad_files):
    files, marker = bad_files
    model = MobileMamba(
        SMALL,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(files['pickled_code']),
            prefix='backbone.'))
    before = snapshot(model)
    with pytest.raises(
            RuntimeError,
            match=r'(?s)cannot read the pretrained checkpoint.*'
            r'UnpicklingError.*(posix|nt)\.system.*needs code is refused'):
        model.init_weights()
    assert not marker.exists()
    assert_unchanged(model, before)


def test_pickled_code_refused_by_get_model(bad_files):
    from mmpretrain import get_model
    files, marker = bad_files
    with pytest.raises(Exception, match='Weights only load failed'):
        get_model(TOY_CLS, pretrained=str(files['pickled_code']))
    assert not marker.exists()


@pytest.mark.parametrize('kind', ['truncated', 'pickled_code'])
def test_bad_file_through_the_converter(kind, bad_files, tmp_path,
                                        monkeypatch):
    files, marker = bad_files
    dst = tmp_path / 'converted.pth'
    monkeypatch.setattr(sys, 'argv', [CONVERTER, str(files[kind]), str(dst)])
    with pytest.raises(
            RuntimeError,
            match='(?s)cannot read .* with weights_only loading.*untrusted '
            'input'):
        runpy.run_path(CONVERTER, run_name='__main__')
    assert not dst.exists()
    assert not marker.exists()


# ---------------------------------------------------------------- op backends


@pytest.fixture
def no_backend_override(monkeypatch):
    monkeypatch.delenv(backends.ENV_VAR, raising=False)


def test_unknown_backend_from_the_environment(no_backend_override,
                                              monkeypatch):
    monkeypatch.setenv(backends.ENV_VAR, 'bidi_selective_scan=cuda')
    model = MobileMamba(SMALL).eval()
    with pytest.raises(
            ValueError,
            match=r"backend 'cuda' was requested for op 'bidi_selective_scan' "
            r'\(through set_backend or \$MMMOBILEMAMBA_OPS_BACKEND\) but is '
            r"not registered; choose one of \(.*'torch'"):
        with torch.no_grad():
            model(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize('request_backend', ['environment', 'set_backend'])
def test_uninstalled_kernel_asked_for_explicitly(request_backend,
                                                 no_backend_override,
                                                 monkeypatch):
    """Forcing mamba-ssm's scan (the ``selective_scan`` op; the model's own
    scan is ``bidi_selective_scan``) without mamba-ssm installed is refused,
    with the way back to the pure-PyTorch implementation, instead of
    silently falling back."""
    if mamba_ssm_available():
        pytest.skip('mamba-ssm is installed')
    inputs = (torch.randn(1, 4, 5), torch.randn(1, 4, 5), -torch.ones(4, 1),
              torch.randn(1, 2, 1, 5), torch.randn(1, 2, 1, 5))
    if request_backend == 'environment':
        monkeypatch.setenv(backends.ENV_VAR, 'mamba_ssm')
        forced = contextlib.nullcontext()
    else:
        forced = use_backend('mamba_ssm', 'selective_scan')
    with forced, pytest.raises(
            RuntimeError,
            match="backend 'mamba_ssm' was requested for op 'selective_scan' "
            'but its dependencies are not installed; install them or unset '
            r'the request \(set_backend\(None\) / \$MMMOBILEMAMBA_OPS_BACKEND'
            r'\) to fall back to the pure-PyTorch implementation'):
        selective_scan(*inputs)

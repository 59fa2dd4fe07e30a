"""A freshly built model is initialised as the official code initialises
it (for training from scratch).

``tests/data/official/init_stats.json`` holds per-tensor statistics of
official T2 and B1 classifiers built from the official code
(``tests/data/official/record.py``). With ``MOBILEMAMBA_OFFICIAL_ROOT``
pointing at an official checkout, the official model is also built live.
Official: model/mobilemamba/mobilemamba.py (Conv2d_BN keeps PyTorch's conv
init, line 202-208; ``initialize="v2"``, line 70) and
model/lib_mamba/vmambanew.py:381-387 (the v2 SS2D values).
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO, load
from mmengine.registry import init_default_scope

STATS = osp.join(REPO, 'tests', 'data', 'official', 'init_stats.json')


def fresh_state_dict(arch):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(
        load(f'configs/mobilemamba/mobilemamba-{arch}_8xb128_in1k.py').model)
    model.init_weights()  # as the Runner does before training
    return model.state_dict()


def statistics(tensor):
    tensor = tensor.float()
    std = tensor.std().item() if tensor.numel() > 1 else 0.
    return [
        tensor.numel(),
        tensor.mean().item(), std,
        tensor.min().item(),
        tensor.max().item()
    ]


def assert_same_distribution(key, ours, official):
    numel, mean, std, low, high = official
    assert ours[0] == numel, key
    if std == 0:  # a constant: exactly the official value
        assert ours[1:] == pytest.approx([mean, 0., low, high], abs=1e-7), key
        return
    # Random: the spread, the centre and the range (a bounded uniform, or
    # the tails of a normal) agree within sampling noise.
    tolerance = 0.25 if numel >= 64 else 0.6
    assert ours[2] == pytest.approx(std, rel=tolerance), key
    assert abs(ours[1] - mean) <= tolerance * std, key
    assert low - std <= ours[3] and ours[4] <= high + std, key


@pytest.mark.parametrize('arch', ['t2', 'b1'])
def test_fresh_model_matches_recorded_official_init(arch):
    with open(STATS) as f:
        official = json.load(f)[arch]
    ours = fresh_state_dict(arch)
    assert ours.keys() == official.keys()
    for key, value in ours.items():
        assert_same_distribution(key, statistics(value), official[key])


@pytest.mark.skipif(
    'MOBILEMAMBA_OFFICIAL_ROOT' not in os.environ,
    reason='set MOBILEMAMBA_OFFICIAL_ROOT to an official checkout')
def test_fresh_model_matches_the_official_code_live(tmp_path):
    record = osp.join(osp.dirname(STATS), 'record.py')
    subprocess.run([
        sys.executable, record, os.environ['MOBILEMAMBA_OFFICIAL_ROOT'],
        '--part', 'init', '--out',
        str(tmp_path)
    ],
                   check=True)
    with open(tmp_path / 'init_stats.json') as f:
        official = json.load(f)
    for arch in ('t2', 'b1'):
        for key, value in fresh_state_dict(arch).items():
            assert_same_distribution(key, statistics(value),
                                     official[arch][key])

"""Two-process gloo training equals one-process training with the same
global batch (2 x 4 images against 1 x 8), started as ``dist_train.sh CFG
2`` on one node and as two single-process nodes (``NNODES=2``,
``NODE_RANK``, ``MASTER_ADDR``, ``PORT``).

``DefaultSampler`` gives rank ``r`` of 2 the samples ``perm[r::2]`` of one
shared permutation, so the two ranks' batches together are the single
process's batch, and DDP's average of the per-rank mean losses is its mean
loss. What else would make the runs differ is switched off in the config:
batch statistics (SyncBN needs CUDA, so the backbone's BN layers are kept in
eval mode, ``norm_eval=True``, and the head is built BN-free,
``deploy=True``), per-sample random flips and per-batch Mixup/CutMix (drawn
per rank). What remains is the summation order of the gradients. The
optimizer is SGD, whose step is linear in the gradient: the recipe's AdamW
divides each gradient by its own magnitude in its first steps, so a weight
whose gradient is about 0 moves by up to +-lr depending on that rounding
(measured: 1e-5 apart after two steps on an AMD EPYC machine).
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from tool_runner import REPO, free_port, run, tool

from mmmobilemamba.datasets import make_toy_classification

CLASSIFIER = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                      'mobilemamba-t2_1xb32_toy-cls.py')
CONFIG = f'''_base_ = {CLASSIFIER!r}
model = dict(
    backbone=dict(norm_eval=True), head=dict(deploy=True), train_cfg=None)
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
train_dataloader = dict(
    dataset=dict(
        indices=8,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
train_cfg = dict(max_epochs=2)
val_cfg = None
val_dataloader = None
val_evaluator = None
randomness = dict(seed=0, deterministic=True)
'''
# Two epochs of one iteration (in the warm-up: the second moves the weights
# by up to 1e-2); the gradients' rounding differences reach the weights at
# about 1e-8 (measured: 7.5e-9 on one node and as two nodes).
ATOL = 1e-6


def weights(work_dir, epoch=2):
    path = osp.join(work_dir, f'epoch_{epoch}.pth')
    return torch.load(path, weights_only=True)['state_dict']


def max_abs_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a
               if a[k].is_floating_point())


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The config, its data option and the single-process work dir."""
    tmp = tmp_path_factory.mktemp('global_batch')
    root = make_toy_classification(str(tmp / 'data'), num_train=8, num_val=2)
    config = tmp / 'toy_global_batch_8.py'
    config.write_text(CONFIG)
    data = f'train_dataloader.dataset.data_root={root}'
    single = str(tmp / 'single')
    tool('train.py', str(config), '--work-dir', single, '--cfg-options', data,
         'train_dataloader.batch_size=8')
    return str(config), data, single


def assert_equivalent(single, distributed):
    expected, actual = weights(single), weights(distributed)
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        torch.testing.assert_close(
            actual[key], value, rtol=0, atol=ATOL, msg=key)
    # Training moved the weights far more than the runs differ.
    assert max_abs_diff(expected, weights(single, epoch=1)) > 50 * ATOL


def start(args, env, log_path):
    """Start ``args`` in the repository root, logging to ``log_path``."""
    with open(log_path, 'w') as log:
        return subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_two_processes_on_one_node(setup, tmp_path):
    config, data, single = setup
    work_dir = str(tmp_path / 'work_dir')
    output = run([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
        '--cfg-options', data, 'train_dataloader.batch_size=4'
    ],
                 PORT=free_port())
    assert 'Distributed training: True' in output
    assert torch.cuda.is_available() or "backend='gloo'" in output
    assert_equivalent(single, work_dir)


def test_two_nodes_of_one_process(setup, tmp_path):
    """Both nodes on this machine, as two nodes on two machines would run
    with ``MASTER_ADDR`` the address of node 0."""
    config, data, single = setup
    work_dir = str(tmp_path / 'work_dir')
    env = dict(
        os.environ,
        PYTHONPATH=REPO,
        PYTHON=sys.executable,
        NNODES='2',
        MASTER_ADDR='127.0.0.1',
        PORT=free_port())
    args = [
        'bash', 'tools/dist_train.sh', config, '1', '--work-dir', work_dir,
        '--cfg-options', data, 'train_dataloader.batch_size=4'
    ]
    nodes = [
        start(args, dict(env, NODE_RANK=str(rank)),
              tmp_path / f'node{rank}.log') for rank in (0, 1)
    ]
    for node in nodes:
        node.wait(timeout=600)
    outputs = [(tmp_path / f'node{rank}.log').read_text() for rank in (0, 1)]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert 'GPU number: 2' in outputs[0]
    assert_equivalent(single, work_dir)

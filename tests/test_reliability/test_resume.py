"""A training killed with SIGKILL after a checkpoint resumes with
``tools/train.py --resume`` and ends with the weights of the uninterrupted
training with the same seed (deterministic CPU settings, ``num_workers=0``).

Without the random states that ``tools/train.py`` saves in its checkpoints
(:class:`mmmobilemamba.utils.random_state.RandomStateHook`), the resumed
classifier draws other flips and Mixup/CutMix pairs than the uninterrupted
one from its first resumed iteration on (its loss differs there already):
resumed after epoch 1 of 3 (2 iterations each), it ended with weights up to
5.7 away.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from tool_runner import REPO, run

from mmmobilemamba.datasets import make_toy_classification, make_toy_detection

CLASSIFIER = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                      'mobilemamba-t2_1xb32_toy-cls.py')
RETINANET = osp.join(REPO, 'configs', 'retinanet', 'toy',
                     'retinanet_mobilemamba-t2_fpn_toy-det.py')
DETERMINISTIC = ['randomness.seed=0', 'randomness.deterministic=True']


def train_args(config, work_dir, options, *args):
    return [
        sys.executable,
        osp.join('tools', 'train.py'), config, '--work-dir', work_dir, *args,
        '--cfg-options', *DETERMINISTIC, *options
    ]


def train_until_killed(args, work_dir, checkpoint, timeout=600):
    """Run ``args``; SIGKILL it as soon as ``checkpoint`` is complete (named
    by ``last_checkpoint``, which mmengine writes after the file)."""
    last = osp.join(work_dir, 'last_checkpoint')
    env = dict(os.environ, PYTHONPATH=REPO)
    with open(osp.join(osp.dirname(work_dir), 'killed.log'), 'w') as log:
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        start = time.time()
        try:
            while True:
                if osp.isfile(last):
                    with open(last) as f:
                        if f.read().strip().endswith(checkpoint):
                            break
                assert proc.poll() is None, 'training ended before the kill'
                assert time.time() - start < timeout
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def final_state_dict(work_dir, checkpoint):
    path = osp.join(work_dir, checkpoint)
    return torch.load(path, 'cpu', weights_only=True)['state_dict']


def assert_same_weights(expected, actual):
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        torch.testing.assert_close(
            actual[key], value, rtol=0, atol=1e-6, msg=key)


def check_resume(tmp_path, config, options, kill_after, final, resumed_at,
                 *args):
    full, interrupted = str(tmp_path / 'full'), str(tmp_path / 'interrupted')
    run(train_args(config, full, options, *args))
    train_until_killed(
        train_args(config, interrupted, options, *args), interrupted,
        kill_after)
    assert not osp.exists(osp.join(interrupted, final))
    output = run(train_args(config, interrupted, options, *args, '--resume'))
    assert f'Auto resumed from the latest checkpoint {interrupted}' \
        f'/{kill_after}' in output
    assert resumed_at in output
    assert 'restored the random states saved at iteration' in output
    assert_same_weights(
        final_state_dict(full, final), final_state_dict(interrupted, final))


def test_classifier_resumes_exactly(tmp_path):
    """Toy classifier, 2 epochs of 2 iterations with validation, killed
    during epoch 2."""
    root = make_toy_classification(
        str(tmp_path / 'data'), num_train=8, num_val=2)
    options = [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val')
    ] + [
        'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=4',
        'train_cfg.max_epochs=2', 'default_hooks.checkpoint.max_keep_ckpts=-1'
    ]
    check_resume(tmp_path, CLASSIFIER, options, 'epoch_1.pth', 'epoch_2.pth',
                 'resumed epoch: 1, iter: 2')


def test_detector_resumes_exactly(tmp_path):
    """Toy RetinaNet, 3 iterations with a checkpoint after each, killed
    after the first: the loop replays the sampler up to iteration 1."""
    pytest.importorskip('mmdet')
    root = make_toy_detection(str(tmp_path / 'data'), num_train=8, num_val=2)
    options = [
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.2.scale=(128,128)',
        'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1'
    ]
    check_resume(tmp_path, RETINANET, options, 'iter_1.pth', 'iter_3.pth',
                 'resumed epoch: 0, iter: 1', '--no-validate')

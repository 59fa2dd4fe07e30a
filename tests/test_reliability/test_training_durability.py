"""A training's work dir stays resumable whatever happens to it.

The toy classifier's config enables ``mmmobilemamba.AtomicCheckpointHook``
(``tools/train.py`` puts it in place of mmengine's ``CheckpointHook`` in any
config): the tests build plain mmengine Runners from that config, as
``mim train`` does, and run ``tools/train.py`` in a subprocess that they
kill with SIGKILL during a save.
"""
import fcntl
import glob
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from tool_runner import REPO, TIMEOUT, run

from mmmobilemamba.datasets import make_toy_classification
from mmmobilemamba.utils import setup_toolbox
from mmmobilemamba.utils.launch import build_runner

CLASSIFIER = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                      'mobilemamba-t2_1xb32_toy-cls.py')

#: A hook that stalls the save of epoch 2 after writing ``save_started``.
STALL_HOOK = '''
import os.path as osp
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class StallSaveHook(Hook):

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['epoch'] == 2:
            open(osp.join(runner.work_dir, 'save_started'), 'w').close()
            time.sleep(600)
'''

#: Holds an flock on ``argv[1]`` (the way a training holds its work dir).
HOLD_LOCK = '''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
print('locked', flush=True)
time.sleep(600)
'''


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return make_toy_classification(
        str(tmp_path_factory.mktemp('data')), num_train=1, num_val=1)


def toy_cfg(root, work_dir, max_epochs, resume=False, **checkpoint):
    """The toy classifier: epochs of one iteration, no validation."""
    cfg = Config.fromfile(CLASSIFIER)
    cfg.train_dataloader.dataset.update(data_root=root, indices=4)
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.max_epochs = max_epochs
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.update(checkpoint)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{osp.basename(work_dir)}-{time.time_ns()}'
    cfg.resume = resume
    setup_toolbox(cfg)
    return cfg


def log_of(runner):
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def load(path):
    return torch.load(path, 'cpu', weights_only=True)


class SeePreviousCheckpoint(Hook):
    """Records, at each save, whether the previous epoch's file is there."""

    def __init__(self):
        self.seen = []

    def before_save_checkpoint(self, runner, checkpoint):
        epoch = checkpoint['meta']['epoch']
        if epoch > 1:
            path = osp.join(runner.work_dir, f'epoch_{epoch - 1}.pth')
            self.seen.append(osp.isfile(path) and 'state_dict' in load(path))


def test_runner_prunes_only_after_the_new_checkpoint(toy_root, tmp_path):
    """``max_keep_ckpts=1``: while epoch 2 is saved, epoch 1 is still
    there (mmengine's CheckpointHook has deleted it by then)."""
    work_dir = tmp_path / 'work'
    runner = Runner.from_cfg(
        toy_cfg(toy_root, work_dir, max_epochs=2, max_keep_ckpts=1))
    probe = SeePreviousCheckpoint()
    runner.register_hook(probe)
    runner.train()
    assert probe.seen == [True]
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_2.pth']
    last = (work_dir / 'last_checkpoint').read_text()
    assert last == str(work_dir / 'epoch_2.pth')
    assert not list(work_dir.glob('.*.tmp'))


def test_train_killed_during_save_resumes(toy_root, tmp_path):
    """``tools/train.py`` killed while it saves epoch 2 with
    ``max_keep_ckpts=1`` leaves epoch 1 readable; ``--resume`` finishes."""
    (tmp_path / 'stall_save_hook.py').write_text(STALL_HOOK)
    config = tmp_path / 'stalled.py'
    config.write_text(
        textwrap.dedent(f'''
        _base_ = [{CLASSIFIER!r}]
        custom_imports = dict(imports=['stall_save_hook'])
        custom_hooks = [dict(type='StallSaveHook')]
        '''))
    work_dir = str(tmp_path / 'work')
    options = [
        f'train_dataloader.dataset.data_root={toy_root}',
        'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=4',
        'train_cfg.max_epochs=2', 'default_hooks.checkpoint.max_keep_ckpts=1'
    ]

    def train(config, *args):
        return [
            sys.executable,
            osp.join('tools', 'train.py'), config, '--work-dir', work_dir,
            '--no-validate', *args, '--cfg-options', *options
        ]

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, str(tmp_path)]))
    started = osp.join(work_dir, 'save_started')
    killed_log = tmp_path / 'killed.log'
    with open(killed_log, 'w') as log:
        proc = subprocess.Popen(
            train(str(config)),
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT)
        deadline = time.time() + TIMEOUT
        try:
            while not osp.exists(started):
                assert proc.poll() is None, killed_log.read_text()
                assert time.time() < deadline
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    epoch_1 = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(epoch_1), 'the kill left no checkpoint'
    assert load(epoch_1)['meta']['epoch'] == 1
    output = run(train(CLASSIFIER, '--resume'))
    assert f'Auto resumed from the latest checkpoint {epoch_1}' in output
    assert 'resumed epoch: 1, iter: 1' in output
    assert load(osp.join(work_dir, 'epoch_2.pth'))['meta']['epoch'] == 2
    assert not osp.exists(epoch_1)


@pytest.fixture(scope='module')
def trained(toy_root, tmp_path_factory):
    """A work dir with epoch_1.pth and epoch_2.pth, saved by a plain Runner
    (no random states in them)."""
    work_dir = tmp_path_factory.mktemp('trained')
    Runner.from_cfg(toy_cfg(toy_root, work_dir, max_epochs=2)).train()
    return work_dir


def copy_of(trained, tmp_path, last_checkpoint):
    work_dir = tmp_path / 'work'
    shutil.copytree(
        trained, work_dir, ignore=shutil.ignore_patterns('last_checkpoint'))
    if last_checkpoint is not None:
        (work_dir / 'last_checkpoint').write_text(
            last_checkpoint.format(work_dir=work_dir))
    return work_dir


@pytest.mark.parametrize('broken, resumed',
                         [('empty', 'epoch_2.pth'),
                          ('missing file', 'epoch_2.pth'),
                          ('missing target', 'epoch_2.pth'),
                          ('truncated target', 'epoch_1.pth')])
def test_resume_falls_back_to_newest_readable(toy_root, trained, tmp_path,
                                              broken, resumed):
    last_checkpoint = {
        'empty': '',
        'missing file': None,
        'missing target': '{work_dir}/epoch_9.pth',
        'truncated target': '{work_dir}/epoch_2.pth'
    }[broken]
    work_dir = copy_of(trained, tmp_path, last_checkpoint)
    if broken == 'truncated target':
        target = work_dir / 'epoch_2.pth'
        target.write_bytes(target.read_bytes()[:1000])
    runner = Runner.from_cfg(
        toy_cfg(toy_root, work_dir, max_epochs=3, resume=True))
    runner.train()
    log = log_of(runner)
    assert 'resuming from the newest readable checkpoint ' \
        f'{work_dir / resumed} instead' in log
    assert runner.epoch == 3
    assert load(work_dir / 'epoch_3.pth')['meta']['epoch'] == 3


def test_resume_with_nothing_to_resume_starts_from_scratch(toy_root, tmp_path):
    runner = Runner.from_cfg(
        toy_cfg(toy_root, tmp_path / 'work', max_epochs=1, resume=True))
    runner.train()
    log = log_of(runner)
    assert 'starting from scratch' in log
    assert 'checkpoint None' not in log


def test_resume_without_random_states_warns(toy_root, trained, tmp_path):
    """``tools/train.py``'s runner resuming a checkpoint that a plain
    Runner saved says the run will not be bit-exact."""
    work_dir = copy_of(trained, tmp_path, '{work_dir}/epoch_2.pth')
    runner = build_runner(
        toy_cfg(toy_root, work_dir, max_epochs=3, resume=True), train=True)
    runner.train()
    assert 'will not be bit-exact' in log_of(runner)


def test_second_training_in_work_dir_is_refused(toy_root, tmp_path):
    """Refused while a process holds the work dir; once that process is
    killed with SIGKILL (its lock file left behind), a training starts."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD_LOCK,
         str(work_dir / 'training.lock')],
        stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(
                RuntimeError,
                match=f'another training \\(pid {holder.pid}\\) is running'):
            Runner.from_cfg(toy_cfg(toy_root, work_dir, max_epochs=1)).train()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (work_dir / 'training.lock').exists()
    Runner.from_cfg(toy_cfg(toy_root, work_dir, max_epochs=1)).train()
    assert load(work_dir / 'epoch_1.pth')['meta']['epoch'] == 1
    # The finished training has let go of the lock.
    with open(work_dir / 'training.lock') as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize(
    'config',
    sorted(
        osp.relpath(path, REPO)
        for pattern in ('mobilemamba/*_in1k.py', '*/*_coco*.py',
                        '*/*_ade20k*.py')
        for path in glob.glob(osp.join(REPO, 'configs', pattern))))
def test_real_configs_save_atomically(config):
    """The real configs name the atomic hook themselves, so that ``mim
    train`` and the upstream ``tools/train.py`` save as ours do."""
    hook = Config.fromfile(osp.join(REPO, config)).default_hooks.checkpoint
    assert hook.type == 'mmmobilemamba.AtomicCheckpointHook'

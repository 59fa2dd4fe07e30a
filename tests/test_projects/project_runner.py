"""Loading the ``projects/`` configs and training them for a few
iterations in-process with the real mmengine Runner, on the toy
datasets."""
import copy
import glob
import math
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmmobilemamba.utils import setup_toolbox

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROJECTS = osp.join(REPO, 'projects')
#: Pipeline keys that hold an image size (or, ``border``, a margin in
#: pixels), an int or a tuple of ints; ``scales`` holds a list of sizes.
SIZE_KEYS = ('scale', 'img_scale', 'crop_size', 'size', 'border')


def project_configs():
    """Paths of every project config, relative to ``projects/``."""
    return sorted(
        osp.relpath(path, PROJECTS)
        for path in glob.glob(osp.join(PROJECTS, '*', 'configs', '*.py')))


def load(path, pretrained=False):
    """The project config ``path`` (relative to ``projects/``), its backbone
    randomly initialised unless ``pretrained``.

    The Runner logs and dumps the config text several times; unformatted
    (no yapf pass) that is cheap.
    """
    cfg = Config.fromfile(osp.join(PROJECTS, path), format_python_code=False)
    if not pretrained:
        cfg.model.backbone.init_cfg = None  # no released weights here
    return cfg


def leaf_changes(base, cfg, prefix=''):
    """Dotted keys of the leaves at which the dicts ``base`` and ``cfg``
    differ (a list counts as a leaf)."""
    changes = set()
    for key in set(base) | set(cfg):
        path = f'{prefix}{key}'
        old, new = base.get(key), cfg.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes |= leaf_changes(old, new, f'{path}.')
        elif old != new:
            changes.add(path)
    return changes


def unexpected_changes(base, cfg, allowed):
    """The changes of ``cfg`` from ``base`` (two Configs) that are not in
    ``allowed`` or below one of its keys."""
    return {
        path
        for path in leaf_changes(base.to_dict(), cfg.to_dict())
        if not any(path == key or path.startswith(f'{key}.')
                   for key in allowed)
    }


def _shrink(value, factor):
    if isinstance(value, int):
        return round(value / factor)
    return tuple(round(v / factor) for v in value)


def _is_size(value):
    return isinstance(value, int) or isinstance(value, (tuple, list)) and all(
        isinstance(v, int) for v in value)


def shrink_pipeline(pipeline, factor):
    """Divide every image size in ``pipeline`` (a list of transform dicts,
    edited in place) by ``factor``, keeping the transforms themselves; the
    transforms nested in ``RandomChoice``/``RandomApply`` included."""
    for transform in pipeline:
        for key in SIZE_KEYS:
            if _is_size(transform.get(key)):
                transform[key] = _shrink(transform[key], factor)
        if isinstance(transform.get('scales'), list):
            transform['scales'] = [
                _shrink(scale, factor) for scale in transform['scales']
            ]
        for nested in transform.get('transforms', []):
            shrink_pipeline(
                nested if isinstance(nested, list) else [nested], factor)
    return pipeline


class StateSnapshotHook(Hook):
    """Copies the model's state dict when training starts, after the
    weights are initialised."""

    priority = 'LOWEST'

    def before_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        self.state = {
            name: tensor.detach().clone()
            for name, tensor in model.state_dict().items()
        }


def train_iterations(cfg, work_dir, iterations=1, batch_size=2, hooks=()):
    """Train ``cfg`` for ``iterations`` iterations of ``batch_size`` images.

    No validation, no checkpoint, single process, no dataloader workers;
    ``hooks`` are registered besides the config's.

    Returns:
        tuple: The Runner and the model's state dict before the first
        iteration.
    """
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iterations)
    for split in ('val', 'test'):
        for part in ('cfg', 'dataloader', 'evaluator'):
            cfg[f'{split}_{part}'] = None
    cfg.train_dataloader.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    setup_toolbox(cfg)
    runner = Runner.from_cfg(cfg)
    snapshot = StateSnapshotHook()
    for hook in (snapshot, *hooks):
        runner.register_hook(hook)
    runner.train()
    return runner, snapshot.state


def logged_losses(runner):
    """{name: value} of the losses of the last training iteration."""
    losses = {
        name[len('train/'):]: buffer.current()
        for name, buffer in runner.message_hub.log_scalars.items()
        if name.startswith('train/') and 'loss' in name
    }
    assert 'loss' in losses, sorted(runner.message_hub.log_scalars)
    for name, value in losses.items():
        assert math.isfinite(value), (name, value)
    return losses


def changed(before, after, prefix):
    """Names of the floating-point entries under ``prefix`` that differ."""
    return sorted(name for name, tensor in after.items()
                  if name.startswith(prefix) and tensor.is_floating_point()
                  and not torch.equal(tensor, before[name]))

"""Toolbox selection and CPU-only distributed setup for ``tools/``."""
import importlib
from datetime import timedelta

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .random_state import RandomStateHook
from .safe_globals import register_checkpoint_safe_globals

SUPPORTED_SCOPES = ('mmpretrain', 'mmdet', 'mmseg')


def setup_toolbox(cfg: Config) -> str:
    """Register the modules of the toolbox named by ``cfg.default_scope``
    (this package's are registered on import) and allow-list the Runner
    checkpoint globals.

    Returns:
        str: The scope, one of :data:`SUPPORTED_SCOPES`.
    """
    scope = cfg.get('default_scope')
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f'default_scope must be one of {SUPPORTED_SCOPES}, '
                         f'got {scope!r}')
    toolbox_utils = importlib.import_module(f'{scope}.utils')
    toolbox_utils.register_all_modules(init_default_scope=True)
    register_checkpoint_safe_globals()
    return scope


def use_atomic_checkpoints(cfg: Config) -> None:
    """Make ``cfg``'s checkpoint hook, mmengine's ``CheckpointHook`` (also
    when only implied), the package's ``AtomicCheckpointHook`` with the same
    arguments; a disabled (``None``) or other hook is kept."""
    default_hooks = cfg.setdefault('default_hooks', {})
    if 'checkpoint' not in default_hooks:
        # What mmengine adds when default_hooks names none.
        default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=1)
    hook = default_hooks['checkpoint']
    if hook is not None and hook.get('type') in ('CheckpointHook',
                                                 'mmengine.CheckpointHook',
                                                 CheckpointHook):
        hook['type'] = 'mmmobilemamba.AtomicCheckpointHook'


def build_runner(cfg: Config, train: bool = False) -> Runner:
    """The Runner of ``cfg`` (its ``runner_type`` if it names one).

    Args:
        train (bool): Save checkpoints with :func:`use_atomic_checkpoints`
            and register :class:`RandomStateHook`, so that its
            checkpoints carry the random states and a resumed training
            continues as the uninterrupted one would have.
    """
    if train:
        use_atomic_checkpoints(cfg)
    runner = (
        RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg))
    if train:
        runner.register_hook(RandomStateHook())
    return runner


def teardown_distributed(barrier: bool = False) -> None:
    """Destroy the process group, if any, before the process exits: a gloo
    group left to the interpreter's shutdown can abort the process.

    Args:
        barrier (bool): First wait until every rank gets here, so that no
            rank closes its connections while another still uses them. Only
            after a successful run: a failed rank never arrives.
    """
    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def setup_cpu_distributed(cfg: Config) -> None:
    """Make ``cfg.launcher='pytorch'`` work without a CUDA device.

    mmengine pins a CUDA device while initialising the process group and
    wraps the model with CUDA ``device_ids``; with no CUDA device this starts
    a gloo process group from the launcher's environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and wraps the model
    without device ids. A no-op when not distributed or when CUDA is present.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs CUDA; without it '
                           'use --launcher pytorch (gloo backend)')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            timeout=timedelta(seconds=dist_cfg.get('timeout', 1800)))
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))

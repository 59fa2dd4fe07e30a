"""A ``CheckpointHook`` whose work dir stays resumable whatever kills it.

mmengine's hook removes the oldest kept checkpoint before it writes the new
one and writes both the checkpoint and ``last_checkpoint`` in place: with
``max_keep_ckpts=1``, a training killed during a save leaves no readable
checkpoint, and ``--resume`` fails.
"""
import os.path as osp
from collections import deque

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmmobilemamba.registry import HOOKS
from mmmobilemamba.utils.safe_globals import register_checkpoint_safe_globals
from ..atomic_local_backend import ATOMIC_LOCAL_BACKEND, write_atomic
from ..resumable_checkpoint import find_resumable_checkpoint
from ..work_dir_lock import WorkDirLock


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` (same arguments) that

    - writes checkpoints to a local ``out_dir`` atomically (temporary file,
      ``fsync``, rename: :mod:`..atomic_local_backend`), and
      ``last_checkpoint`` too;
    - removes checkpoints beyond ``max_keep_ckpts`` only once the new one and
      ``last_checkpoint`` are complete (a resume removes those a kill left);
    - allow-lists the Runner checkpoint globals when resuming
      (:mod:`mmmobilemamba.utils.safe_globals`), and resumes a
      ``resume=True`` training without a path from the checkpoint
      ``last_checkpoint`` names if it is complete, else from the newest
      readable one with a warning, else says it starts from scratch;
    - refuses a second training in the same work dir while one runs
      (:class:`..work_dir_lock.WorkDirLock`).

    Enable it with
    ``default_hooks=dict(checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook', ...))``.
    """  # noqa: E501

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        local = self.out_dir is None or '://' not in str(self.out_dir)
        if local and self.backend_args is None \
                and self.file_client_args is None:
            self.backend_args = dict(backend=ATOMIC_LOCAL_BACKEND)
        self._lock = None

    def before_run(self, runner) -> None:
        # Runner.train calls load_or_resume after before_run; it reads the
        # resume settings from these attributes (no public setter).
        if not runner._resume:
            return
        # Runner checkpoints need them under torch.load(weights_only=True).
        register_checkpoint_safe_globals()
        if runner._load_from is not None:
            return
        path, warning = find_resumable_checkpoint(runner.work_dir)
        if warning is not None:
            runner.logger.warning(warning)
        if path is None:
            runner.logger.info(f'nothing to resume in {runner.work_dir}: '
                               'starting from scratch')
            runner._resume = False
        else:
            runner.logger.info(f'Auto resumed from the latest checkpoint '
                               f'{path}.')
            runner._load_from = path

    def before_train(self, runner) -> None:
        if is_main_process():
            self._lock = WorkDirLock(runner.work_dir)
            self._lock.acquire()
        super().before_train(runner)

    def after_run(self, runner) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _save_checkpoint_with_step(self, runner, step, meta):
        kept = None
        if self.max_keep_ckpts > 0:
            kept = list(self.keep_ckpt_ids)
            if not kept or kept[-1] != step:
                kept.append(step)
            # Saved in the checkpoint: a training resumed from it removes
            # those that a kill kept this save from removing.
            runner.message_hub.update_info('keep_ckpt_ids', kept)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            write_atomic(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if kept is None:
            return
        while len(kept) > self.max_keep_ckpts:
            self._remove(self.filename_tmpl.format(kept.pop(0)))
        self.keep_ckpt_ids = deque(kept, self.max_keep_ckpts)
        runner.message_hub.update_info('keep_ckpt_ids', kept)

    def _remove(self, filename: str) -> None:
        if not is_main_process():
            return
        path = self.file_backend.join_path(self.out_dir, filename)
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # saved by DeepSpeed
            self.file_backend.rmtree(path)

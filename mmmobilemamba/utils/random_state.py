"""Resuming a training with the random number generators where they were.

mmengine's ``Runner.resume`` restores the model, optimizer, schedulers and
loop position but re-seeds the global generators (``random``, ``numpy``,
``torch``): from there on, random data augmentation (e.g. ``RandomFlip``,
which draws from ``numpy``), drop path and samplers inside the model draw
other numbers than the uninterrupted training would have, and the resumed
weights differ. :class:`RandomStateHook` stores the generators' states in
each checkpoint and puts them back where the training continues.
"""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop


def get_random_states() -> dict:
    """The states of Python's, NumPy's and torch's global generators, made
    of containers, numbers and tensors only (readable with
    ``torch.load(..., weights_only=True)``)."""
    numpy_state = np.random.get_state(legacy=False)
    return dict(
        python=random.getstate(),
        numpy=dict(
            key=torch.from_numpy(numpy_state['state']['key'].astype(np.int64)),
            pos=numpy_state['state']['pos'],
            has_gauss=numpy_state['has_gauss'],
            gauss=numpy_state['gauss']),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() else [])


def set_random_states(states: dict) -> None:
    """Restore the states returned by :func:`get_random_states`."""
    version, internal, gauss = states['python']
    random.setstate((version, tuple(internal), gauss))
    numpy_state = states['numpy']
    np.random.set_state(
        dict(
            bit_generator='MT19937',
            state=dict(
                key=numpy_state['key'].numpy().astype(np.uint32),
                pos=numpy_state['pos']),
            has_gauss=numpy_state['has_gauss'],
            gauss=numpy_state['gauss']))
    torch.set_rng_state(states['torch'])
    if states['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreAfterSkip:
    """Wraps an ``IterBasedTrainLoop``'s dataloader iterator: the loop
    replays the first ``skip`` batches on resume (running their transforms);
    the states are restored just before the first new batch is drawn."""

    def __init__(self, iterator, skip: int, states: dict):
        self._iterator = iterator
        self._skip = skip
        self._states = states

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._states is not None:
            set_random_states(self._states)
            self._states = None
        self._skip -= 1
        return next(self._iterator)


class RandomStateHook(Hook):
    """Save the global random states in every checkpoint (under
    ``'random_states'``) and restore them when a training resumes from it,
    so that it continues as the uninterrupted training would have.

    Validation during training is made neutral to the generators (their
    states are put back after it), since a resumed training does not repeat
    the validation that followed its checkpoint.

    Single-process trainings resume exactly; in a distributed training the
    checkpoint holds rank 0's states only, so nothing is restored there.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._resumed: Optional[tuple] = None
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_states'] = get_random_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        self._resumed = (meta.get('iter'), checkpoint.get('random_states'))

    def before_train(self, runner) -> None:
        # load_from also calls after_load_checkpoint: only a training that
        # continues at the checkpoint's iteration restores its states.
        if self._resumed is None or runner.iter == 0:
            return
        checkpoint_iter, states = self._resumed
        self._resumed = None
        if checkpoint_iter != runner.iter:
            return
        if states is None:
            print_log(
                f'the checkpoint resumed at iteration {runner.iter} holds no '
                'random states (saved without RandomStateHook, which '
                'tools/train.py adds): the resumed training will not be '
                'bit-exact with an uninterrupted one',
                logger='current',
                level=logging.WARNING)
            return
        if get_world_size() > 1:
            print_log(
                'random states are not restored in distributed training '
                '(the checkpoint holds only those of rank 0)',
                logger='current')
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, runner.iter, states)
        else:
            set_random_states(states)
        print_log(
            f'restored the random states saved at iteration {runner.iter}',
            logger='current')

    def before_val(self, runner) -> None:
        self._before_val = get_random_states()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_random_states(self._before_val)
            self._before_val = None

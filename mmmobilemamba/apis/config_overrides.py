"""Run-time changes to a training config: where its data is and how long it
trains. The model and the recipe stay as the config has them."""
import math

from mmengine.config import Config

SPLITS = ('train', 'val', 'test')


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point the dataloaders of ``cfg`` at ``data_root``, and its evaluators'
    annotation files (COCO's ``ann_file``), which must lie under the config's
    own ``data_root``, at the same files there."""
    old_root = cfg.get('data_root')
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if loader is not None:
            loader.dataset.data_root = data_root
        evaluator = cfg.get(f'{split}_evaluator')
        if not isinstance(evaluator, dict) or 'ann_file' not in evaluator:
            continue
        ann_file = evaluator.ann_file
        if old_root is None or not ann_file.startswith(old_root):
            raise ValueError(
                f'{split}_evaluator.ann_file={ann_file!r} does not lie under '
                f"the config's data_root={old_root!r}: set it explicitly")
        evaluator.ann_file = data_root + ann_file[len(old_root):]
    cfg.data_root = data_root


def set_max_iters(cfg: Config, max_iters: int) -> None:
    """Train ``cfg`` for ``max_iters`` iterations with an iteration-based
    loop, whatever its own loop counts.

    Iteration-based parameter schedulers keep their milestones, cut at
    ``max_iters`` (those starting later are dropped); epoch-based ones must
    span the whole run (no ``begin``/``end``) and then do so in iterations.
    """
    if max_iters < 1:
        raise ValueError(f'max_iters must be positive, got {max_iters}')
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    kept = []
    for scheduler in schedulers:
        scheduler = dict(scheduler)
        if scheduler.pop('by_epoch', True):
            if 'begin' in scheduler or 'end' in scheduler:
                raise ValueError(
                    f'cannot convert the epoch milestones of {scheduler} to '
                    'iterations: give it by_epoch=False milestones')
            scheduler.pop('convert_to_iter_based', None)
        begin = scheduler.get('begin', 0)
        if begin >= max_iters:
            continue
        scheduler['end'] = min(scheduler.get('end', max_iters), max_iters)
        kept.append(dict(scheduler, by_epoch=False))
    cfg.param_scheduler = kept
    hooks = cfg.setdefault('default_hooks', {})
    if 'logger' in hooks:
        hooks.logger.update(
            interval=min(hooks.logger.get('interval', 10), max_iters),
            log_metric_by_epoch=False)
    cfg.log_processor = dict(cfg.get('log_processor', {}), by_epoch=False)


def set_checkpoint_interval(cfg: Config,
                            parts: int = 5,
                            keep: int = 2) -> None:
    """Checkpoint an iteration-based run of ``cfg`` ``parts`` times (and at
    its end), keeping the last ``keep`` checkpoints, so that an interrupted
    run resumes close to where it stopped. Epoch-based runs keep their own
    (per-epoch) setting."""
    if cfg.train_cfg.get('type') != 'IterBasedTrainLoop':
        return
    interval = max(1, math.ceil(cfg.train_cfg.max_iters / parts))
    hooks = cfg.setdefault('default_hooks', {})
    checkpoint = hooks.get('checkpoint') or {}
    hooks.checkpoint = dict(
        checkpoint,
        type=checkpoint.get('type', 'mmmobilemamba.AtomicCheckpointHook'),
        by_epoch=False,
        interval=interval,
        max_keep_ckpts=keep)


def scale_schedule(cfg: Config, factor: int) -> None:
    """Train ``cfg`` ``factor`` times longer: the loop's length, its
    validation interval and every parameter scheduler's ``begin``, ``end``
    and ``milestones`` are multiplied, so the schedule keeps its shape."""
    if factor < 1:
        raise ValueError(f'factor must be positive, got {factor}')
    loop = cfg.train_cfg
    for key in ('max_iters', 'max_epochs', 'val_interval'):
        if key in loop:
            loop[key] *= factor
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in [schedulers] if isinstance(schedulers,
                                                dict) else schedulers:
        for key in ('begin', 'end'):
            if key in scheduler:
                scheduler[key] *= factor
        if 'milestones' in scheduler:
            scheduler['milestones'] = [
                m * factor for m in scheduler['milestones']
            ]


def set_validation_points(cfg: Config, points: int) -> None:
    """Validate ``cfg`` ``points`` times during training (fewer if it is
    shorter), evenly spaced, the last at or just before its end."""
    if points < 1:
        raise ValueError(f'points must be positive, got {points}')
    loop = cfg.train_cfg
    length = loop.get('max_iters', loop.get('max_epochs'))
    loop['val_interval'] = max(1, length // points)

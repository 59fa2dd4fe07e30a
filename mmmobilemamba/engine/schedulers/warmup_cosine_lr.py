"""Cosine learning-rate decay with a linear warm-up laid over its start."""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmmobilemamba.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, _ParamScheduler):
    r"""The learning-rate curve of timm's ``CosineLRScheduler`` (with
    ``warmup_t`` and no ``warmup_prefix``), which the official MobileMamba
    ImageNet recipe uses.

    At step :math:`t` of :math:`T = end - begin`, with base lr :math:`b`,
    :math:`m = b \cdot eta\_min\_ratio` and :math:`w = b \cdot warmup\_ratio`:

    .. math::
        lr(t) = \begin{cases}
            w + t (b - w) / W & t < W \\
            m + \frac{1}{2} (b - m) (1 + \cos(\pi t / T)) & W \le t < T
        \end{cases}

    Unlike ``LinearLR`` followed by ``CosineAnnealingLR(begin=W)``, the
    cosine spans the whole schedule: the warm-up replaces its first
    :math:`W` steps, so the lr at the end of the warm-up is already below
    the peak (0.989 b for W = 20 of T = 300 epochs). The values are computed
    in closed form from the step, so resuming is exact.

    Args:
        optimizer (Optimizer): Wrapped optimizer.
        warmup (int): Warm-up length :math:`W`, in steps (epochs when
            ``by_epoch``). 0 disables the warm-up; one longer than the
            schedule warms up throughout, as timm's does.
        warmup_ratio (float): Warm-up start :math:`w / b`. Defaults to 1e-3.
        eta_min_ratio (float): Final lr :math:`m / b`. Defaults to 1e-2.
        begin (int): First step of the schedule. Defaults to 0.
        end (int): End of the schedule (exclusive); required.
        last_step (int): For resuming. Defaults to -1.
        by_epoch (bool): Steps are epochs. Defaults to True.
        verbose (bool): Print each update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 warmup: int,
                 warmup_ratio: float = 1e-3,
                 eta_min_ratio: float = 1e-2,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False):
        if end == INF:
            raise ValueError('WarmupCosineLR needs the schedule length: set '
                             '`end` (e.g. the max_epochs of train_cfg)')
        if warmup < 0:
            raise ValueError(f'warmup must be >= 0, got {warmup}')
        self.warmup = warmup
        self.warmup_ratio = warmup_ratio
        self.eta_min_ratio = eta_min_ratio
        self.total_steps = end - begin
        super().__init__(
            optimizer,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls,
                              *args,
                              warmup,
                              begin=0,
                              end=INF,
                              by_epoch=True,
                              epoch_length=None,
                              **kwargs):
        """An iteration-based instance of an epoch-based config."""
        if not by_epoch:
            raise ValueError('convert_to_iter_based needs by_epoch=True')
        if not epoch_length or epoch_length <= 0:
            raise ValueError(
                f'epoch_length must be positive, got {epoch_length}')
        return cls(
            *args,
            warmup=int(warmup * epoch_length),
            begin=int(begin * epoch_length),
            end=int(end * epoch_length) if end != INF else end,
            by_epoch=False,
            **kwargs)

    def lr_at(self, base_lr: float, step: int) -> float:
        """The lr at ``step`` (counted from ``begin``) for ``base_lr``."""
        if step < self.warmup:
            start = base_lr * self.warmup_ratio
            return start + step * (base_lr - start) / self.warmup
        eta_min = base_lr * self.eta_min_ratio
        progress = min(step, self.total_steps) / self.total_steps
        return eta_min + 0.5 * (base_lr -
                                eta_min) * (1 + math.cos(math.pi * progress))

    def _get_value(self):
        return [
            self.lr_at(group[f'initial_{self.param_name}'], self.last_step)
            for group in self.optimizer.param_groups
        ]

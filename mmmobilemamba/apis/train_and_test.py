"""Train a config with the mmengine Runner, then evaluate the result."""
import time
from dataclasses import dataclass
from typing import Dict

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint

from mmmobilemamba.utils import build_runner, setup_toolbox


class StartIterationHook(Hook):
    """Records the iteration training starts from (after any resume)."""
    iter = 0

    def before_train(self, runner) -> None:
        self.iter = runner.iter


@dataclass
class TrainTestResult:
    """What :func:`train_and_test` ran and measured."""
    #: Training iterations done in all, resumed ones included.
    iterations: int
    #: Iteration the run resumed from (0: it started afresh).
    resumed_from: int
    #: Wall time of this call (training, evaluation), in seconds.
    seconds: float
    #: The test evaluator's metrics, e.g. ``{'coco/bbox_mAP': 0.4}``.
    metrics: Dict[str, float]
    #: The last checkpoint: the trained model.
    checkpoint: str


def train_and_test(cfg: Config, validate: bool = False) -> TrainTestResult:
    """Train ``cfg`` in ``cfg.work_dir``, resuming from the latest checkpoint
    there if any, then evaluate the model on its test set.

    Validation during training is switched off unless ``validate``: the test
    set is evaluated once, at the end.
    """
    start = time.perf_counter()
    cfg = cfg.copy()
    # Resume only from a checkpoint present now: ``runner.test`` would
    # otherwise resume from the one training has just written.
    cfg.resume = find_latest_checkpoint(cfg.work_dir) is not None
    cfg.load_from = None
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    setup_toolbox(cfg)
    runner = build_runner(cfg, train=True)
    start_iter = StartIterationHook()
    runner.register_hook(start_iter)
    runner.train()
    iterations = runner.iter
    metrics = runner.test()
    return TrainTestResult(
        iterations=iterations,
        resumed_from=start_iter.iter,
        seconds=time.perf_counter() - start,
        metrics={
            key: float(value)
            for key, value in metrics.items()
        },
        checkpoint=find_latest_checkpoint(cfg.work_dir))

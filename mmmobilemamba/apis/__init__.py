"""Training, evaluation and visualisation helpers for whole runs."""
from .config_overrides import (set_checkpoint_interval, set_data_root,
                               set_max_iters)
from .train_and_test import TrainTestResult, train_and_test
from .visualise import visualise_predictions

__all__ = [
    'TrainTestResult', 'set_checkpoint_interval', 'set_data_root',
    'set_max_iters', 'train_and_test', 'visualise_predictions'
]

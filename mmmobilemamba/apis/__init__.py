"""Training, evaluation and visualisation helpers for whole runs."""
from .config_overrides import (scale_schedule, set_checkpoint_interval,
                               set_data_root, set_max_iters,
                               set_validation_points)
from .contact_sheet import paint_contact_sheet
from .train_and_test import TrainTestResult, train_and_test
from .training_curves import plot_training_curves, read_scalars
from .visualise import visualise_predictions

__all__ = [
    'TrainTestResult', 'paint_contact_sheet', 'plot_training_curves',
    'read_scalars', 'scale_schedule', 'set_checkpoint_interval',
    'set_data_root', 'set_max_iters', 'set_validation_points',
    'train_and_test', 'visualise_predictions'
]

"""Helpers for the entry points in ``tools/``; importing it registers the
loaders of checkpoint URLs (:mod:`.remote_checkpoint`)."""
from .launch import (SUPPORTED_SCOPES, build_runner, setup_cpu_distributed,
                     setup_toolbox, teardown_distributed)
from .remote_checkpoint import CheckpointDownloadError, download_checkpoint
from .safe_globals import (CHECKPOINT_SAFE_GLOBALS,
                           register_checkpoint_safe_globals)

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'CheckpointDownloadError', 'SUPPORTED_SCOPES',
    'build_runner', 'download_checkpoint', 'register_checkpoint_safe_globals',
    'setup_cpu_distributed', 'setup_toolbox', 'teardown_distributed'
]

"""MobileMamba for MMPretrain, MMDetection and MMSegmentation."""
from . import engine, models  # noqa: F401  (registers the modules)
from .version import __version__

__all__ = ['__version__']

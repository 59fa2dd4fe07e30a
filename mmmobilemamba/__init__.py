"""MobileMamba for MMPretrain, MMDetection and MMSegmentation."""
# Registers the modules and the loaders of checkpoint URLs.
from . import engine, models, utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']

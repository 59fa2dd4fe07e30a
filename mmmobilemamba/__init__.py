"""MobileMamba for MMPretrain, MMDetection and MMSegmentation."""
# First, before any toolbox model is imported: keep mmpretrain importable
# beside a transformers it predates (see toolbox_compat).
from .toolbox_compat import keep_mmpretrain_importable

keep_mmpretrain_importable()

# Registers the modules and the loaders of checkpoint URLs, and allow-lists
# the few mmengine classes that a Runner checkpoint pickles, so that the
# toolboxes' own tools (DetInferencer, MMSegInferencer, ``mim test``) load
# this project's checkpoints with ``torch.load(weights_only=True)``.
from . import engine, models, utils  # noqa: E402,F401
from .version import __version__  # noqa: E402

utils.register_checkpoint_safe_globals()

__all__ = ['__version__']

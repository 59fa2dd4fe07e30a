"""Datasets. The toy data generators here need no toolbox, only numpy and
Pillow; ``checked`` holds mmdet/mmseg datasets and loaders that name the
files they cannot use."""
import importlib

# Public name -> the module that defines it.
_EXPORTS = {
    'CLASSES': 'toy_classification',
    'make_toy_classification': 'toy_classification',
    'DET_CLASSES': 'toy_detection',
    'make_toy_detection': 'toy_detection',
    'SEG_CLASSES': 'toy_segmentation',
    'SEG_PALETTE': 'toy_segmentation',
    'make_toy_segmentation': 'toy_segmentation',
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    # Imported on first use, so that ``python -m
    # mmmobilemamba.datasets.toy_classification`` runs the module only once.
    if name in _EXPORTS:
        module = importlib.import_module(f'.{_EXPORTS[name]}', __name__)
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

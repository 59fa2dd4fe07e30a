"""Datasets. Nothing here needs a toolbox, only numpy and Pillow."""

__all__ = ['CLASSES', 'make_toy_classification']


def __getattr__(name):
    # Imported on first use, so that ``python -m
    # mmmobilemamba.datasets.toy_classification`` runs the module only once.
    if name in __all__:
        from . import toy_classification
        return getattr(toy_classification, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

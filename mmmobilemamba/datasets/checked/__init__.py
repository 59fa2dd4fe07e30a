"""Datasets and transforms that name the file behind bad input.

Registered in the ``mmmobilemamba`` scope, so that any config reaches them
with the prefix, e.g. ``dict(type='mmmobilemamba.CheckedCocoDataset')``. The
datasets read their images (and label maps) with the checked loaders where
their pipeline names mmcv's ``LoadImageFromFile`` (mmseg's
``LoadAnnotations``). A toolbox's part is imported only where the toolbox is
installed.
"""
from importlib.util import find_spec

from .loading import (CheckedLoadersMixin, CheckedLoadImageFromFile,
                      unreadable_file_error)

__all__ = [
    'CheckedLoadersMixin', 'CheckedLoadImageFromFile', 'unreadable_file_error'
]

if find_spec('mmpretrain') is not None:
    from .classification import CheckedCustomDataset, CheckedImageNet
    __all__ += ['CheckedCustomDataset', 'CheckedImageNet']

if find_spec('mmdet') is not None:
    from .coco import CheckedCocoDataset
    __all__ += ['CheckedCocoDataset']

if find_spec('mmseg') is not None:
    from .segmentation import (CheckedADE20KDataset, CheckedBaseSegDataset,
                               CheckedLoadSegAnnotations)
    __all__ += [
        'CheckedADE20KDataset', 'CheckedBaseSegDataset',
        'CheckedLoadSegAnnotations'
    ]

"""mmpretrain's datasets reading images with the checked loader."""
from mmpretrain.datasets import CustomDataset, ImageNet

from mmmobilemamba.registry import DATASETS
from .loading import CheckedLoadersMixin


@DATASETS.register_module()
class CheckedCustomDataset(CheckedLoadersMixin, CustomDataset):
    """``CustomDataset`` that names the image it cannot read (it already
    names an empty folder)."""


@DATASETS.register_module()
class CheckedImageNet(CheckedLoadersMixin, ImageNet):
    """``ImageNet`` that names the image it cannot read."""

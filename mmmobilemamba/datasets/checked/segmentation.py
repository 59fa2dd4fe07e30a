"""mmseg's datasets and label-map loading that name the files they lack or
cannot read."""
import os.path as osp

from mmcv.transforms import LoadImageFromFile
from mmseg.datasets import ADE20KDataset, BaseSegDataset
from mmseg.datasets.transforms import LoadAnnotations

from mmmobilemamba.registry import DATASETS, TRANSFORMS
from .loading import (CheckedLoadersMixin, CheckedLoadImageFromFile,
                      unreadable_file_error)


@TRANSFORMS.register_module()
class CheckedLoadSegAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` whose errors on an empty or undecodable
    label map name the file (a missing file raises ``FileNotFoundError`` as
    before)."""

    def _load_seg_map(self, results):
        try:
            super()._load_seg_map(results)
        except FileNotFoundError:
            raise
        except Exception as error:
            raise unreadable_file_error('label map', results['seg_map_path'],
                                        error, self.backend_args) from error


class _CheckedSegDataset(CheckedLoadersMixin):
    """Refuses an empty dataset, naming where it looked, and reads images
    and label maps with the checked loaders where the pipeline names
    ``LoadImageFromFile`` and ``LoadAnnotations``."""

    checked_loaders = {
        LoadImageFromFile: CheckedLoadImageFromFile,
        LoadAnnotations: CheckedLoadSegAnnotations
    }

    def filter_data(self):
        data_list = super().filter_data()
        if not data_list:
            if self.ann_file and not osp.isdir(self.ann_file):
                where = f'the list {self.ann_file} is empty'
            else:
                where = (f"no '{self.img_suffix}' images were found under "
                         f"{self.data_prefix.get('img_path')}")
            raise ValueError(
                f'the dataset has no samples: {where}; check data_root, '
                'data_prefix, img_suffix and ann_file')
        return data_list


@DATASETS.register_module()
class CheckedBaseSegDataset(_CheckedSegDataset, BaseSegDataset):
    """``BaseSegDataset`` that refuses to be empty and names the image or
    label map it cannot read."""


@DATASETS.register_module()
class CheckedADE20KDataset(_CheckedSegDataset, ADE20KDataset):
    """``ADE20KDataset`` that refuses to be empty and names the image or
    label map it cannot read."""

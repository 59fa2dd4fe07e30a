"""mmdet's ``CocoDataset`` with its annotation file checked."""
import logging
from collections import defaultdict

from mmdet.datasets import CocoDataset
from mmengine.logging import print_log

from mmmobilemamba.registry import DATASETS
from .loading import CheckedLoadersMixin

# Pixels a box may stick out of its image before it is reported (rounding in
# real annotation files).
EDGE_TOLERANCE = 1.0
# Annotation ids listed per problem in the warning.
MAX_IDS = 20


def box_problem(bbox, width, height):
    """What is wrong with a COCO ``bbox`` ``[x, y, w, h]`` in an image of
    ``width`` x ``height`` pixels: ``'size'``, ``'outside'`` or None."""
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return 'size'
    if (x < -EDGE_TOLERANCE or y < -EDGE_TOLERANCE
            or x + w > width + EDGE_TOLERANCE
            or y + h > height + EDGE_TOLERANCE):
        return 'outside'
    return None


def _id_list(ids):
    listed = ', '.join(str(i) for i in ids[:MAX_IDS])
    more = len(ids) - MAX_IDS
    return listed + (f' and {more} more' if more > 0 else '')


@DATASETS.register_module()
class CheckedCocoDataset(CheckedLoadersMixin, CocoDataset):
    """``CocoDataset`` that names its annotation file when it cannot be read
    or lists no images, or when ``filter_cfg`` leaves no image; warns once
    per load, naming their annotation ids, about boxes outside their image
    (by more than ``EDGE_TOLERANCE`` px) or of zero or negative size; and
    reads images with :class:`CheckedLoadImageFromFile` where the pipeline
    says ``LoadImageFromFile``. Otherwise the same as ``CocoDataset``."""

    def load_data_list(self):
        self._bad_boxes = defaultdict(list)
        try:
            data_list = super().load_data_list()
        except (ValueError, AssertionError) as error:
            raise ValueError(
                f'cannot read the COCO annotation file {self.ann_file} '
                f'({type(error).__name__}: {error}): it must be a JSON object '
                "with 'images', 'annotations' and 'categories' (is it empty, "
                'truncated or in another format?)') from error
        except (KeyError, TypeError) as error:
            raise ValueError(
                f'the COCO annotation file {self.ann_file} has an image or '
                'annotation entry without a field it needs or with a value '
                f'of the wrong type ({type(error).__name__}: {error})'
            ) from error
        self._warn_bad_boxes()
        if not data_list:
            raise ValueError(
                f'the COCO annotation file {self.ann_file} lists no images: '
                'check that ann_file names the right file of the right split')
        return data_list

    def parse_data_info(self, raw_data_info):
        image = raw_data_info['raw_img_info']
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('ignore', False):
                continue
            problem = box_problem(ann['bbox'], image['width'], image['height'])
            if problem is not None:
                self._bad_boxes[problem].append(ann['id'])
        return super().parse_data_info(raw_data_info)

    def _warn_bad_boxes(self):
        problems = [
            f'{what} (annotation ids {_id_list(self._bad_boxes[key])})'
            for key, what in (('outside',
                               'partly or wholly outside their image'),
                              ('size', 'of zero or negative size'))
            if self._bad_boxes[key]
        ]
        del self._bad_boxes
        if problems:
            print_log(
                f'{self.ann_file} has boxes ([x, y, width, height] in pixels) '
                f'{"; and boxes ".join(problems)}. mmdet skips those with no '
                'area inside the image or a side under 1 px and keeps the '
                'others unclipped: correct or remove these annotations',
                logger='current',
                level=logging.WARNING)

    def filter_data(self):
        data_list = super().filter_data()
        if not data_list:
            raise ValueError(
                f'all {len(self.data_list)} images of {self.ann_file} were '
                f'filtered out by filter_cfg={self.filter_cfg} '
                '(filter_empty_gt=True keeps the images with an annotation of '
                f'the classes {self.metainfo["classes"]}, min_size those '
                'with both sides at least that): check the annotations and '
                'the classes in metainfo, or loosen filter_cfg')
        return data_list

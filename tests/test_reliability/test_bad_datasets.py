"""Bad dataset files: the error names the file and what is wrong with it,
and bad boxes give one warning that names their annotation ids.

Through the toy configs (which use ``mmmobilemamba.CheckedCocoDataset``,
``mmmobilemamba.CheckedBaseSegDataset`` and
``mmmobilemamba.CheckedCustomDataset``) and through a user's own config
that only sets the dataset type and keeps mmcv's ``LoadImageFromFile``, built
by mmengine's ``Runner.build_dataloader`` as training builds them. Before,
these files failed with ``cv2.error ... !buf.empty()`` (0-byte image),
``UnidentifiedImageError: cannot identify image file <_io.BytesIO ...>``
(0-byte label map), ``JSONDecodeError`` (empty or truncated JSON),
``AssertionError: annotation file format <class 'list'> not supported`` and
``need at least one array to concatenate`` (no images, no folder contents,
every image filtered out); boxes outside the image or of negative size were
dropped or kept without a word.
"""
import json
import logging
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmobilemamba.datasets import (make_toy_classification,
                                    make_toy_detection, make_toy_segmentation)

pytest.importorskip('mmdet')
pytest.importorskip('mmpretrain')
pytest.importorskip('mmseg')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(REPO, 'configs', 'retinanet', 'toy',
                     'retinanet_mobilemamba-t2_fpn_toy-det.py')
MASK_RCNN = osp.join(REPO, 'configs', 'mask_rcnn', 'toy',
                     'mask-rcnn_mobilemamba-t2_fpn_toy-det.py')
CLASSIFIER = osp.join(REPO, 'configs', 'mobilemamba', 'toy',
                      'mobilemamba-t2_1xb32_toy-cls.py')
SEM_FPN = osp.join(REPO, 'configs', 'sem_fpn', 'toy',
                   'fpn_mobilemamba-t2_1xb8_toy-seg.py')
TRAIN_ANN = 'annotations/instances_train.json'


@pytest.fixture(scope='module')
def small_det(tmp_path_factory):
    return make_toy_detection(
        str(tmp_path_factory.mktemp('det')), num_train=3, num_val=2)


@pytest.fixture(scope='module')
def small_seg(tmp_path_factory):
    return make_toy_segmentation(
        str(tmp_path_factory.mktemp('seg')), num_train=3, num_val=2)


@pytest.fixture(scope='module')
def small_cls(tmp_path_factory):
    return make_toy_classification(
        str(tmp_path_factory.mktemp('cls')),
        num_train=6,
        num_val=6,
        img_size=32)


@pytest.fixture
def det_root(small_det, tmp_path):
    return shutil.copytree(small_det, str(tmp_path / 'det'))


@pytest.fixture
def seg_root(small_seg, tmp_path):
    return shutil.copytree(small_seg, str(tmp_path / 'seg'))


def dataloader(config, data_root, key='train_dataloader', **dataset):
    """The dataloader ``key`` of ``config`` over ``data_root`` (dataset
    fields overridden by ``dataset``), as the runner builds it."""
    cfg = Config.fromfile(config)
    loader = cfg[key]
    loader.dataset.update(data_root=data_root, **dataset)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return Runner.build_dataloader(loader)


def users_coco_loader(data_root):
    """A user's own config: mmdet's pipeline, only the dataset type set."""
    loader = dict(
        batch_size=1,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='mmmobilemamba.CheckedCocoDataset',
            data_root=data_root,
            ann_file=TRAIN_ANN,
            data_prefix=dict(img='train/'),
            metainfo=dict(classes=('disc', 'square', 'triangle', 'star')),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PackDetInputs'),
            ]))
    with DefaultScope.overwrite_default_scope('mmdet'):
        return Runner.build_dataloader(loader)


def empty(path):
    open(path, 'w').close()
    return path


@pytest.mark.parametrize('build', ['retinanet', 'mask_rcnn', 'users'])
def test_zero_byte_image_names_the_file(det_root, build):
    if build == 'users':
        dataset = users_coco_loader(det_root).dataset
    else:
        config = RETINANET if build == 'retinanet' else MASK_RCNN
        dataset = dataloader(config, det_root).dataset
    path = empty(dataset.get_data_info(0)['img_path'])
    with pytest.raises(ValueError, match='is empty') as info:
        dataset[0]
    assert path in str(info.value)
    assert 'replace it' in str(info.value)


def test_zero_byte_classification_image_names_the_file(small_cls, tmp_path):
    root = shutil.copytree(small_cls, str(tmp_path / 'cls'))
    dataset = dataloader(CLASSIFIER, root).dataset
    path = empty(dataset.get_data_info(0)['img_path'])
    with pytest.raises(ValueError, match='is empty') as info:
        dataset[0]
    assert path in str(info.value)


@pytest.mark.parametrize('field', ['img_path', 'seg_map_path'])
def test_zero_byte_segmentation_file_names_the_file(seg_root, field):
    dataset = dataloader(SEM_FPN, seg_root).dataset
    path = empty(dataset.get_data_info(0)[field])
    with pytest.raises(ValueError, match='is empty') as info:
        dataset[0]
    assert path in str(info.value)


@pytest.mark.parametrize('content', ['', '{"images": [', '[]', '\x89PNG'])
def test_unreadable_annotation_json_names_the_file(det_root, content):
    ann_file = osp.join(det_root, TRAIN_ANN)
    with open(ann_file, 'w') as f:
        f.write(content)
    with pytest.raises(ValueError, match='COCO annotation file') as info:
        dataloader(RETINANET, det_root)
    assert ann_file in str(info.value)
    assert 'JSON object' in str(info.value)


@pytest.mark.parametrize('key', ['train_dataloader', 'val_dataloader'])
def test_coco_file_without_images_names_the_file(det_root, key):
    ann_file = osp.join(det_root, TRAIN_ANN)
    with open(ann_file) as f:
        coco = json.load(f)
    with open(ann_file, 'w') as f:
        json.dump(dict(coco, images=[], annotations=[]), f)
    with pytest.raises(ValueError, match='lists no images') as info:
        dataloader(RETINANET, det_root, key, ann_file=TRAIN_ANN)
    assert ann_file in str(info.value)


def test_every_image_filtered_out_names_the_filter(det_root):
    ann_file = osp.join(det_root, TRAIN_ANN)
    with open(ann_file) as f:
        coco = json.load(f)
    with open(ann_file, 'w') as f:
        json.dump(dict(coco, annotations=[]), f)
    with pytest.raises(ValueError, match='filter_cfg') as info:
        dataloader(RETINANET, det_root)
    assert ann_file in str(info.value)
    assert 'all 3 images' in str(info.value)


def test_segmentation_folder_without_images_names_the_folder(seg_root):
    images = osp.join(seg_root, 'images', 'training')
    shutil.rmtree(images)
    shutil.os.makedirs(images)
    with pytest.raises(ValueError, match="no '.jpg' images") as info:
        dataloader(SEM_FPN, seg_root)
    assert images in str(info.value)


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_bad_boxes_give_one_warning_naming_their_ids(det_root):
    ann_file = osp.join(det_root, TRAIN_ANN)
    with open(ann_file) as f:
        coco = json.load(f)
    sizes = {
        img['id']: (img['width'], img['height'])
        for img in coco['images']
    }
    anns = coco['annotations']
    width, height = sizes[anns[0]['image_id']]
    anns[0]['bbox'] = [width + 5, 10, 20, 20]  # wholly outside
    width, height = sizes[anns[1]['image_id']]
    anns[1]['bbox'] = [10, height - 10, 20, 30]  # partly outside
    anns[2]['bbox'] = [30, 30, -12, 20]  # negative width
    anns[3]['bbox'] = [30, 30, 12, -1]  # negative height
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    records = Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        dataset = dataloader(RETINANET, det_root).dataset
        len(dataset)
    finally:
        logger.removeHandler(records)
    warnings = [m for m in records.messages if 'box' in m]
    assert len(warnings) == 1, records.messages
    ids = [ann['id'] for ann in anns[:4]]
    assert f'outside their image (annotation ids {ids[0]}, {ids[1]})' in (
        warnings[0])
    assert f'negative size (annotation ids {ids[2]}, {ids[3]})' in (
        warnings[0])
    assert ann_file in warnings[0]


@pytest.mark.parametrize(
    'config,plain', [(RETINANET, 'CocoDataset'), (MASK_RCNN, 'CocoDataset'),
                     (SEM_FPN, 'BaseSegDataset'),
                     (CLASSIFIER, 'CustomDataset')],
    ids=['retinanet', 'mask_rcnn', 'sem_fpn', 'classifier'])
def test_good_files_load_as_with_the_plain_dataset(small_det, small_seg,
                                                   small_cls, config, plain):
    root = {SEM_FPN: small_seg, CLASSIFIER: small_cls}.get(config, small_det)
    checked = dataloader(config, root, 'val_dataloader').dataset
    assert type(checked).__name__ == 'Checked' + plain
    reference = dataloader(config, root, 'val_dataloader', type=plain).dataset
    assert len(checked) == len(reference) >= 2
    for index in range(2):
        got, expected = checked[index], reference[index]
        assert torch.equal(got['inputs'], expected['inputs'])
        got, expected = got['data_samples'], expected['data_samples']
        assert got.metainfo == expected.metainfo
        if config == CLASSIFIER:
            assert torch.equal(got.gt_label, expected.gt_label)
        elif config == SEM_FPN:
            assert torch.equal(got.gt_sem_seg.data, expected.gt_sem_seg.data)
        else:
            assert torch.equal(got.gt_instances.bboxes.tensor,
                               expected.gt_instances.bboxes.tensor)

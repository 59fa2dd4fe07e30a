"""One picture of a trained model on its validation images: ground truth
beside prediction, drawn by the toolbox's own visualizer."""
import math
from typing import Optional

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from PIL import Image

from mmmobilemamba.utils import setup_toolbox

#: White space between and around the tiles, in pixels.
GUTTER = 8


def _build(scope: str, cfg: Config, checkpoint: str, device: str):
    """The model with ``checkpoint`` loaded, its test dataset and its
    toolbox's visualizer."""
    if scope == 'mmdet':
        from mmdet.apis import init_detector
        from mmdet.registry import DATASETS
        from mmdet.visualization import DetLocalVisualizer as Visualizer
        model = init_detector(cfg, checkpoint, device=device)
    elif scope == 'mmseg':
        from mmseg.apis import init_model
        from mmseg.registry import DATASETS
        from mmseg.visualization import SegLocalVisualizer as Visualizer
        model = init_model(cfg, checkpoint, device=device)
    else:
        from mmpretrain.apis import get_model
        from mmpretrain.registry import DATASETS
        from mmpretrain.visualization import UniversalVisualizer as Visualizer
        model = get_model(cfg, pretrained=checkpoint, device=device)
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    visualizer = Visualizer(name=f'contact_sheet_{scope}')
    visualizer.dataset_meta = dataset.metainfo
    return model, dataset, visualizer


def _upscale_sample(scope: str, sample, factor: int) -> None:
    """Scale the boxes, masks and label maps of ``sample`` in place by the
    integer ``factor`` (nearest neighbour: masks stay exact)."""

    def grow(mask: torch.Tensor) -> torch.Tensor:
        return mask.repeat_interleave(factor, -1).repeat_interleave(factor, -2)

    if scope == 'mmseg':
        for key in ('gt_sem_seg', 'pred_sem_seg'):
            if key in sample:
                label_map = getattr(sample, key)
                setattr(
                    sample, key,
                    PixelData(
                        data=grow(label_map.data),
                        metainfo=label_map.metainfo))
        return
    for key in ('gt_instances', 'pred_instances'):
        if key not in sample:
            continue
        instances = getattr(sample, key)
        boxes = instances.bboxes
        if hasattr(boxes, 'tensor'):  # mmdet's HorizontalBoxes
            boxes = boxes.tensor
        instances.bboxes = boxes * factor
        if 'masks' in instances:
            masks = instances.masks
            if isinstance(masks, torch.Tensor):
                instances.masks = grow(masks)
            else:  # BitmapMasks / PolygonMasks
                instances.masks = masks.rescale(factor)


def paint_contact_sheet(cfg: Config,
                        checkpoint: str,
                        out_file: str,
                        num_images: int = 6,
                        columns: int = 2,
                        tile_size: int = 512,
                        score_thr: float = 0.3,
                        device: str = 'cpu') -> Optional[str]:
    """Draw ``num_images`` test images of ``cfg``, spread evenly over its
    test set, each as ground truth beside prediction (boxes, masks or label
    maps with class names and scores; for a classifier, the true and
    predicted class), upscaled so that the longer side of each image is
    about ``tile_size`` pixels, in a grid of ``columns``, and save the grid
    to ``out_file``.

    Returns:
        str | None: ``out_file``, or None if the test set is empty.
    """
    scope = setup_toolbox(cfg)
    with DefaultScope.overwrite_default_scope(scope):
        model, dataset, visualizer = _build(scope, cfg, checkpoint, device)
        tiles = []
        # Spread over the set: a classification set is sorted by class.
        count = min(num_images, len(dataset))
        for index in np.linspace(0, len(dataset) - 1, count).round():
            item = dataset[int(index)]
            with torch.no_grad():
                (sample, ) = model.test_step(pseudo_collate([item]))
            sample = sample.cpu()
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            height, width = image.shape[:2]
            if scope == 'mmpretrain':
                tiles.append(
                    visualizer.visualize_cls(
                        image,
                        sample,
                        classes=dataset.metainfo.get('classes'),
                        resize=tile_size // 2))
                continue
            factor = max(1, round(tile_size / max(height, width)))
            image = mmcv.imresize(
                image, (width * factor, height * factor),
                interpolation='bicubic')
            _upscale_sample(scope, sample, factor)
            kwargs = dict(pred_score_thr=score_thr) if scope == 'mmdet' \
                else {}
            # Drawn one at a time: mmseg's visualizer keeps only the last
            # drawing as its image.
            pair = []
            for draw_gt in (True, False):
                visualizer.add_datasample(
                    'sample',
                    image,
                    sample,
                    draw_gt=draw_gt,
                    draw_pred=not draw_gt,
                    **kwargs)
                pair.append(visualizer.get_image())
            tiles.append(np.concatenate(pair, axis=1))
    if not tiles:
        return None
    return _save_grid(tiles, columns if scope != 'mmpretrain' else 2 * columns,
                      out_file)


def _save_grid(tiles, columns: int, out_file: str) -> str:
    """Tiles (RGB arrays of any sizes) in rows of ``columns`` on white."""
    rows = math.ceil(len(tiles) / columns)
    cell_h = max(tile.shape[0] for tile in tiles)
    cell_w = max(tile.shape[1] for tile in tiles)
    sheet = np.full((rows * (cell_h + GUTTER) + GUTTER, columns *
                     (cell_w + GUTTER) + GUTTER, 3),
                    255,
                    dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top = GUTTER + row * (cell_h + GUTTER)
        left = GUTTER + column * (cell_w + GUTTER)
        sheet[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    Image.fromarray(sheet).save(out_file)
    return out_file

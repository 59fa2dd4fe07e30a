"""Paint a trained model's predictions with its toolbox's inference API."""
import os
import os.path as osp
from typing import List, Sequence

from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from mmmobilemamba.utils import setup_toolbox


def visualise_predictions(cfg: Config, checkpoint: str, images: Sequence[str],
                          out_dir: str, device: str) -> List[str]:
    """Run the inferencer of ``cfg``'s toolbox (mmdet ``DetInferencer``,
    mmseg ``MMSegInferencer``, mmpretrain ``ImageClassificationInferencer``)
    on ``images`` and paint its predictions over them.

    Each image is first copied to ``out_dir/inputs/<name>.png`` (the
    inferencers paint in their input's format). Detections and segmentation
    maps are painted at the image's size, class names on the image resized
    to a short edge of 256 pixels.

    Returns:
        list[str]: The painted images, ``out_dir/vis/<name>.png``.
    """
    scope = setup_toolbox(cfg)
    inputs = []
    os.makedirs(osp.join(out_dir, 'inputs'), exist_ok=True)
    for image in images:
        name = osp.splitext(osp.basename(image))[0] + '.png'
        path = osp.join(out_dir, 'inputs', name)
        with Image.open(image) as source:
            source.convert('RGB').save(path)
        inputs.append(path)
    vis_dir = osp.join(out_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    # mmpretrain's inferencer builds its pipeline in the current scope.
    with DefaultScope.overwrite_default_scope(scope):
        if scope == 'mmdet':
            from mmdet.apis import DetInferencer
            inferencer = DetInferencer(
                model=cfg, weights=checkpoint, device=device)
            inferencer(inputs, out_dir=out_dir)
        elif scope == 'mmseg':
            from mmseg.apis import MMSegInferencer
            inferencer = MMSegInferencer(
                model=cfg, weights=checkpoint, device=device)
            inferencer(inputs, out_dir=out_dir)
        else:
            from mmpretrain import ImageClassificationInferencer
            inferencer = ImageClassificationInferencer(
                model=cfg, pretrained=checkpoint, device=device)
            # Short edges of 256 pixels keep the painted class name legible.
            inferencer(inputs, show_dir=vis_dir, resize=256)
    return [osp.join(vis_dir, osp.basename(path)) for path in inputs]

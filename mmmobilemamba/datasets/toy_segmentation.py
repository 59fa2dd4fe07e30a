"""A small, deterministic semantic segmentation dataset drawn on the fly.

Scenes of five classes (``sky``, ``ground``, ``stripes``, ``checker``,
``blob``): a sky gradient above a wavy horizon, a speckled ground below it,
and two or three textured objects on top, in random places, sizes, rotations
and colours. The label maps follow ADE20K's convention (read with
``reduce_zero_label=True``): 0 is "other" (a few noise patches, ignored) and
the classes are 1..5. The folder layout is the one read by mmseg's
``ADE20KDataset``::

    <root>/images/training/toy_0000.jpg
    <root>/annotations/training/toy_0000.png  (uint8 label map)
    <root>/images/validation/toy_0000.jpg
    <root>/annotations/validation/toy_0000.png
    <root>/toy_segmentation.json  (the generation settings, written last)

Images are 128x128, 96x128, 128x96 or 112x112 (height x width). Only numpy
and Pillow are needed; run it as
``python -m mmmobilemamba.datasets.toy_segmentation OUT_DIR``.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

SEG_CLASSES = ('sky', 'ground', 'stripes', 'checker', 'blob')
SEG_PALETTE = ((70, 130, 180), (140, 110, 60), (220, 20, 60), (250, 170, 30),
               (120, 60, 200))
SPLITS = ('training', 'validation')
SIZES = ((128, 128), (96, 128), (128, 96), (112, 112))
MANIFEST = 'toy_segmentation.json'
FORMAT_VERSION = 1

SKY, GROUND, STRIPES, CHECKER, BLOB = range(1, len(SEG_CLASSES) + 1)


def _object_mask(label, u, v, rng, radius):
    """(region, pattern) boolean masks of an object of class ``label``:
    (u, v) are pixel coordinates centred on the object, divided by its
    ``radius`` in pixels; ``pattern`` picks the second colour."""
    if label == BLOB:
        # A disc whose radius wobbles with the angle.
        angle = np.arctan2(v, u)
        wobble = 1 + sum(
            rng.uniform(0, 0.15) * np.cos(k * angle + rng.uniform(0, 7))
            for k in (2, 3, 5))
        return u**2 + v**2 <= wobble**2, np.zeros_like(u, dtype=bool)
    if rng.random() < 0.5:
        region = u**2 + v**2 <= 1
    else:
        region = np.maximum(abs(u), abs(v)) <= 0.85
    period = rng.uniform(6, 9) / radius
    if label == STRIPES:
        return region, np.sin(2 * np.pi * v / period) > 0
    if label == CHECKER:
        parity = np.floor(u / period * 2) + np.floor(v / period * 2)
        return region, parity % 2 == 0
    raise ValueError(f'unknown object class {label!r}')


def draw_sample(rng, size=(128, 128)):
    """One scene: an RGB uint8 image of shape ``size + (3, )`` and its uint8
    label map of shape ``size`` (0 for "other", classes from 1)."""
    height, width = size
    y, x = np.meshgrid(
        np.arange(height) + 0.5, np.arange(width) + 0.5, indexing='ij')
    image = np.empty((height, width, 3))
    label = np.empty((height, width), dtype=np.uint8)

    # Sky: a vertical blue gradient above a wavy horizon.
    horizon = height * rng.uniform(0.35, 0.65) + rng.uniform(
        2, 8) * np.sin(2 * np.pi * x / width * rng.uniform(0.5, 2) +
                       rng.uniform(0, 2 * np.pi))
    sky = y < horizon
    top = rng.uniform([20, 60, 140], [60, 110, 200])
    bottom = rng.uniform([140, 180, 220], [190, 220, 255])
    t = (y / height)[..., None]
    image[sky] = (top + (bottom - top) * t)[sky]
    label[sky] = SKY
    # Ground: green to brown, speckled.
    ground_colour = rng.uniform([60, 70, 20], [140, 130, 60])
    speckle = rng.normal(0, 25, size=(height, width, 1))
    image[~sky] = (ground_colour + speckle)[~sky]
    label[~sky] = GROUND

    # Two or three objects, drawn over each other.
    objects = rng.choice([STRIPES, CHECKER, BLOB, STRIPES, CHECKER, BLOB],
                         size=rng.integers(2, 4),
                         replace=False)
    for obj in objects:
        radius = rng.uniform(0.15, 0.3) * min(height, width)
        cx, cy = rng.uniform(0.15, 0.85, size=2) * (width, height)
        angle = rng.uniform(0, 2 * np.pi)
        cos, sin = np.cos(angle), np.sin(angle)
        u = (cos * (x - cx) + sin * (y - cy)) / radius
        v = (-sin * (x - cx) + cos * (y - cy)) / radius
        region, pattern = _object_mask(obj, u, v, rng, radius)
        colours = rng.uniform(0, 255, size=(2, 3))
        if obj != BLOB:
            # Two clearly different colours for the texture.
            colours[1] = (colours[0] + 128) % 256
        fill = np.where(pattern[..., None], colours[1], colours[0])
        if obj == BLOB:
            # Smooth shading from one side.
            fill = fill * (0.75 + 0.25 * np.clip(u + v, -1, 1))[..., None]
        image[region] = fill[region]
        label[region] = obj

    # "Other": now and then a small patch of coloured noise.
    for _ in range(rng.integers(0, 3)):
        h, w = rng.integers(6, 16, size=2)
        top_, left = rng.integers(0, height - h), rng.integers(0, width - w)
        image[top_:top_ + h, left:left + w] = rng.uniform(
            0, 255, size=(h, w, 3))
        label[top_:top_ + h, left:left + w] = 0

    image += rng.normal(0, rng.uniform(3, 8), size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def _manifest(num_train, num_val, seed):
    return dict(
        version=FORMAT_VERSION,
        classes=list(SEG_CLASSES),
        num_train=num_train,
        num_val=num_val,
        sizes=[list(size) for size in SIZES],
        seed=seed)


def _stems(count):
    return [f'toy_{i:04d}' for i in range(count)]


def _folders(root, split):
    return osp.join(root, 'images', split), osp.join(root, 'annotations',
                                                     split)


def _is_complete(root, manifest):
    try:
        with open(osp.join(root, MANIFEST)) as f:
            if json.load(f) != manifest:
                return False
    except (OSError, ValueError):
        return False
    for split, count in zip(SPLITS,
                            (manifest['num_train'], manifest['num_val'])):
        images, annotations = _folders(root, split)
        for stem in _stems(count):
            if not (osp.isfile(osp.join(images, stem + '.jpg'))
                    and osp.isfile(osp.join(annotations, stem + '.png'))):
                return False
    return True


def make_toy_segmentation(root, num_train=120, num_val=30, seed=0):
    """Write the toy dataset under ``root`` unless it is already complete.

    Every sample depends only on (seed, split, index), so the same arguments
    always give the same pixels.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 120.
        num_val (int): Validation images. Defaults to 30.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    manifest = _manifest(num_train, num_val, seed)
    if _is_complete(root, manifest):
        return root
    manifest_path = osp.join(root, MANIFEST)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    for split_id, split in enumerate(SPLITS):
        images, annotations = _folders(root, split)
        stems = _stems(num_train if split == 'training' else num_val)
        for folder, suffix in ((images, '.jpg'), (annotations, '.png')):
            os.makedirs(folder, exist_ok=True)
            # Drop files left over from other settings.
            files = {stem + suffix for stem in stems}
            for old in set(os.listdir(folder)) - files:
                if old.endswith(suffix):
                    os.remove(osp.join(folder, old))
        for index, stem in enumerate(stems):
            rng = np.random.default_rng([seed, split_id, index])
            size = SIZES[rng.integers(len(SIZES))]
            image, label = draw_sample(rng, size)
            Image.fromarray(image).save(
                osp.join(images, stem + '.jpg'), quality=95)
            Image.fromarray(label).save(osp.join(annotations, stem + '.png'))
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=2)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy segmentation dataset.')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=120)
    parser.add_argument('--num-val', type=int, default=30)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root = make_toy_segmentation(args.out_dir, args.num_train, args.num_val,
                                 args.seed)
    print(root)


if __name__ == '__main__':
    main()

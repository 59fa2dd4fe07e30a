"""A small, deterministic instance segmentation dataset drawn on the fly.

Scenes with one to five objects of four classes (``disc``, ``square``,
``triangle``, ``star``), each with its own texture (shaded, checkered,
striped, plain), in random places, sizes, rotations and colours, over a
cluttered, noisy background. Objects may overlap a little: each one stays at
least 93% visible. Every object is a polygon (a disc is a 32-gon), and its
pixels are exactly those whose centres lie inside the polygon written to the
annotations, so masks and images agree. The layout is COCO's, read by
mmdet's ``CocoDataset``::

    <root>/train/toy_0000.jpg
    <root>/val/toy_0000.jpg
    <root>/annotations/instances_train.json
    <root>/annotations/instances_val.json
    <root>/toy_detection.json  (the generation settings, written last)

Image ids and annotation ids start at 1, category ids too. Images are 160 to
256 pixels a side, not all multiples of 32. Only numpy and Pillow are
needed; run it as ``python -m mmmobilemamba.datasets.toy_detection OUT_DIR``.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

DET_CLASSES = ('disc', 'square', 'triangle', 'star')
SPLITS = ('train', 'val')
# (height, width)
SIZES = (
    (160, 160),
    (160, 224),
    (192, 192),
    (200, 240),
    (224, 176),
    (256, 256),
)
MANIFEST = 'toy_detection.json'
FORMAT_VERSION = 1
MIN_VISIBLE = 0.93
MAX_TRIES = 20

DISC, SQUARE, TRIANGLE, STAR = range(1, len(DET_CLASSES) + 1)


def _outline(label, radius, angle):
    """(N, 2) polygon vertices (x, y) around the origin."""
    if label == DISC:
        count, radii = 32, radius
    elif label == SQUARE:
        count, radii = 4, radius
    elif label == TRIANGLE:
        count, radii = 3, radius
    elif label == STAR:
        count, radii = 10, radius * np.tile([1, 0.45], 5)
    else:
        raise ValueError(f'unknown object class {label!r}')
    theta = angle + 2 * np.pi * np.arange(count) / count
    return np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=1)


def polygon_mask(polygon, size):
    """Boolean mask of shape ``size`` (height, width): the pixels whose
    centres lie inside ``polygon`` ((N, 2) vertices (x, y)), by the even-odd
    rule."""
    height, width = size
    py, px = np.meshgrid(
        np.arange(height) + 0.5, np.arange(width) + 0.5, indexing='ij')
    inside = np.zeros(size, dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if y0 == y1:
            continue
        crosses = (y0 > py) != (y1 > py)
        x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (px < x_cross)
    return inside


def _texture(label, u, v, rng):
    """Boolean pattern that picks the second colour; (u, v) are pixel
    coordinates centred on the object, in the object's frame."""
    period = rng.uniform(6, 10)
    if label == SQUARE:
        parity = np.floor(u / period) + np.floor(v / period)
        return parity % 2 == 0
    if label == TRIANGLE:
        return np.sin(2 * np.pi * v / period) > 0
    return np.zeros_like(u, dtype=bool)


def _background(rng, size):
    height, width = size
    y, x = np.meshgrid(
        np.arange(height) + 0.5, np.arange(width) + 0.5, indexing='ij')
    # A gradient in a random direction between two dull colours.
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1) / 2
    start, end = rng.uniform(40, 200, size=(2, 3))
    image = start + (end - start) * t[..., None]
    # Clutter: thin line segments and small patches of coloured noise.
    for _ in range(rng.integers(3, 9)):
        x0, y0 = rng.uniform(0, 1, size=2) * (width, height)
        length, direction = rng.uniform(8, 40), rng.uniform(0, 2 * np.pi)
        dx, dy = np.cos(direction), np.sin(direction)
        along = np.clip((x - x0) * dx + (y - y0) * dy, 0, length)
        distance = np.hypot(x - x0 - along * dx, y - y0 - along * dy)
        image[distance <= rng.uniform(0.5, 2)] = rng.uniform(0, 255, size=3)
    for _ in range(rng.integers(0, 4)):
        h, w = rng.integers(4, 11, size=2)
        top, left = rng.integers(0, height - h), rng.integers(0, width - w)
        image[top:top + h, left:left + w] = rng.uniform(0, 255, (h, w, 3))
    return image


def draw_sample(rng, size=(192, 192)):
    """One scene: an RGB uint8 image of shape ``size + (3, )`` and a list of
    objects, dicts with ``label`` (category id), ``polygon`` ((N, 2)
    vertices (x, y), rounded to 0.01 px), ``mask`` (the polygon's pixels)
    and ``visible`` (its pixels not hidden by later objects)."""
    height, width = size
    y, x = np.meshgrid(
        np.arange(height) + 0.5, np.arange(width) + 0.5, indexing='ij')
    image = _background(rng, size)
    objects = []
    for _ in range(rng.integers(1, 6)):
        label = int(rng.integers(1, len(DET_CLASSES) + 1))
        for _ in range(MAX_TRIES):
            radius = rng.uniform(0.1, 0.25) * min(height, width)
            angle = rng.uniform(0, 2 * np.pi)
            outline = _outline(label, radius, angle)
            # Keep the whole polygon inside the image.
            low = -outline.min(axis=0) + 1
            high = np.array([width, height]) - outline.max(axis=0) - 1
            centre = rng.uniform(low, high)
            polygon = np.round(outline + centre, 2)
            mask = polygon_mask(polygon, size)
            if all((obj['visible'] & ~mask).sum() >= MIN_VISIBLE *
                   obj['mask'].sum() for obj in objects):
                break
        else:
            continue
        for obj in objects:
            obj['visible'] &= ~mask
        objects.append(
            dict(label=label, polygon=polygon, mask=mask, visible=mask.copy()))

        cos, sin = np.cos(angle), np.sin(angle)
        u = cos * (x - centre[0]) + sin * (y - centre[1])
        v = -sin * (x - centre[0]) + cos * (y - centre[1])
        colours = rng.uniform(0, 255, size=(2, 3))
        # Two clearly different colours for the texture.
        colours[1] = (colours[0] + 128) % 256
        pattern = _texture(label, u, v, rng)
        fill = np.where(pattern[..., None], colours[1], colours[0])
        if label == DISC:
            # Smooth shading from one side.
            fill = fill * (0.7 + 0.3 * np.clip(u / radius, -1, 1))[..., None]
        image[mask] = fill[mask]

    image += rng.normal(0, rng.uniform(3, 8), size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), objects


def sample_rng(seed, split, index):
    """The random generator of sample ``index`` of ``split``."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _manifest(num_train, num_val, seed):
    return dict(
        version=FORMAT_VERSION,
        classes=list(DET_CLASSES),
        num_train=num_train,
        num_val=num_val,
        sizes=[list(size) for size in SIZES],
        seed=seed)


def _stems(count):
    return [f'toy_{i:04d}' for i in range(count)]


def _ann_file(root, split):
    return osp.join(root, 'annotations', f'instances_{split}.json')


def _is_complete(root, manifest):
    try:
        with open(osp.join(root, MANIFEST)) as f:
            if json.load(f) != manifest:
                return False
    except (OSError, ValueError):
        return False
    for split, count in zip(SPLITS,
                            (manifest['num_train'], manifest['num_val'])):
        if not osp.isfile(_ann_file(root, split)):
            return False
        for stem in _stems(count):
            if not osp.isfile(osp.join(root, split, stem + '.jpg')):
                return False
    return True


def make_toy_detection(root, num_train=150, num_val=40, seed=0):
    """Write the toy dataset under ``root`` unless it is already complete.

    Every sample depends only on (seed, split, index), so the same arguments
    always give the same pixels and annotations.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 150.
        num_val (int): Validation images. Defaults to 40.
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
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [
        dict(id=i, name=name) for i, name in enumerate(DET_CLASSES, 1)
    ]
    for split in SPLITS:
        folder = osp.join(root, split)
        stems = _stems(num_train if split == 'train' else num_val)
        os.makedirs(folder, exist_ok=True)
        # Drop files left over from other settings.
        for old in set(os.listdir(folder)) - {s + '.jpg' for s in stems}:
            if old.endswith('.jpg'):
                os.remove(osp.join(folder, old))
        images, annotations = [], []
        for index, stem in enumerate(stems):
            rng = sample_rng(seed, split, index)
            size = SIZES[rng.integers(len(SIZES))]
            image, objects = draw_sample(rng, size)
            Image.fromarray(image).save(
                osp.join(folder, stem + '.jpg'), quality=95)
            images.append(
                dict(
                    id=index + 1,
                    file_name=stem + '.jpg',
                    height=size[0],
                    width=size[1]))
            for obj in objects:
                x0, y0 = obj['polygon'].min(axis=0)
                x1, y1 = obj['polygon'].max(axis=0)
                bbox = [x0, y0, x1 - x0, y1 - y0]
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=index + 1,
                        category_id=obj['label'],
                        bbox=[round(float(v), 2) for v in bbox],
                        area=float(obj['mask'].sum()),
                        iscrowd=0,
                        segmentation=[obj['polygon'].ravel().tolist()]))
        with open(_ann_file(root, split), 'w') as f:
            json.dump(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=categories), f)
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=2)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy detection dataset.')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=150)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root = make_toy_detection(args.out_dir, args.num_train, args.num_val,
                              args.seed)
    print(root)


if __name__ == '__main__':
    main()

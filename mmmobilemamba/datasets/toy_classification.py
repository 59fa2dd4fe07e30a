"""A small, deterministic classification dataset drawn on the fly.

Six classes of shapes and textures (``checker``, ``disc``, ``dots``,
``hstripes``, ``ring``, ``vstripes``) with random position, size, rotation,
colours, background gradient and noise, written in the folder layout read by
mmpretrain's ``CustomDataset``::

    <root>/train/<class>/<class>_0000.png
    <root>/val/<class>/<class>_0000.png
    <root>/classes.txt
    <root>/toy_classification.json  (the generation settings, written last)

Only numpy and Pillow are needed; run it as
``python -m mmmobilemamba.datasets.toy_classification OUT_DIR``.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

CLASSES = ('checker', 'disc', 'dots', 'hstripes', 'ring', 'vstripes')
SPLITS = ('train', 'val')
MANIFEST = 'toy_classification.json'
FORMAT_VERSION = 1


def _class_mask(name, u, v, rng, radius):
    """Boolean mask of class ``name``: (u, v) are pixel coordinates centred
    on the object, divided by its ``radius`` in pixels."""
    if name == 'disc':
        return u**2 + v**2 <= 1
    if name == 'ring':
        return abs(np.sqrt(u**2 + v**2) - 0.8) <= 0.2
    # Textures fill a disc or a square patch, so the outline is no cue.
    if rng.random() < 0.5:
        region = u**2 + v**2 <= 1
    else:
        region = np.maximum(abs(u), abs(v)) <= 0.85
    period = rng.uniform(7, 10) / radius
    if name in ('hstripes', 'vstripes'):
        across = v if name == 'hstripes' else u
        return region & (np.sin(2 * np.pi * across / period) > 0)
    if name == 'checker':
        parity = np.floor(u / period * 2) + np.floor(v / period * 2)
        return region & (parity % 2 == 0)
    if name == 'dots':
        du = u / period - np.round(u / period)
        dv = v / period - np.round(v / period)
        return region & (du**2 + dv**2 <= 0.09)
    raise ValueError(f'unknown class {name!r}')


def draw_sample(name, rng, size=64):
    """One ``size`` x ``size`` RGB uint8 image of class ``name``."""
    # A light object on a dark background gradient or the other way round,
    # with random colours, so that colour carries no class information.
    dark_on_light = rng.random() < 0.5
    light = rng.uniform(150, 255, size=(2, 3))
    dark = rng.uniform(0, 105, size=(2, 3))
    back, fore = (light, dark[0]) if dark_on_light else (dark, light[0])

    # Supersampled grid (2x2 per pixel) for an anti-aliased outline.
    sub = (np.arange(2 * size) + 0.5) / 2
    y, x = np.meshgrid(sub, sub, indexing='ij')
    cx, cy = rng.uniform(0.3, 0.7, size=2) * size
    radius = rng.uniform(0.2, 0.35) * size
    # Stripes keep their orientation (within 15 degrees); the rest turn
    # freely.
    if name.endswith('stripes'):
        angle = rng.uniform(-np.pi / 12, np.pi / 12)
    else:
        angle = rng.uniform(0, 2 * np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    u = (cos * (x - cx) + sin * (y - cy)) / radius
    v = (-sin * (x - cx) + cos * (y - cy)) / radius
    mask = _class_mask(name, u, v, rng, radius).astype(np.float64)
    alpha = mask.reshape(size, 2, size, 2).mean(axis=(1, 3))[..., None]

    # Background: a linear gradient between two colours.
    grad = rng.uniform(0, 2 * np.pi)
    t = ((np.cos(grad) * x + np.sin(grad) * y)[::2, ::2] / size + 1) / 2
    background = back[0] + (back[1] - back[0]) * t[..., None]
    image = background * (1 - alpha) + fore * alpha
    image += rng.normal(0, rng.uniform(4, 12), size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _manifest(num_train, num_val, img_size, seed):
    return dict(
        version=FORMAT_VERSION,
        classes=list(CLASSES),
        num_train=num_train,
        num_val=num_val,
        img_size=img_size,
        seed=seed)


def _file_names(name, count):
    return [f'{name}_{i:04d}.png' for i in range(count)]


def _is_complete(root, manifest):
    try:
        with open(osp.join(root, MANIFEST)) as f:
            if json.load(f) != manifest:
                return False
    except (OSError, ValueError):
        return False
    for split in SPLITS:
        for name in CLASSES:
            folder = osp.join(root, split, name)
            count = manifest[f'num_{split}']
            if not all(
                    osp.isfile(osp.join(folder, file))
                    for file in _file_names(name, count)):
                return False
    return True


def make_toy_classification(root,
                            num_train=100,
                            num_val=20,
                            img_size=64,
                            seed=0):
    """Write the toy dataset under ``root`` unless it is already complete.

    Every image depends only on (seed, split, class, index), so the same
    arguments always give the same pixels.

    Args:
        root (str): Output folder.
        num_train (int): Training images per class. Defaults to 100.
        num_val (int): Validation images per class. Defaults to 20.
        img_size (int): Image height and width. Defaults to 64.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    manifest = _manifest(num_train, num_val, img_size, seed)
    if _is_complete(root, manifest):
        return root
    manifest_path = osp.join(root, MANIFEST)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    for split_id, split in enumerate(SPLITS):
        for class_id, name in enumerate(CLASSES):
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            files = _file_names(name, manifest[f'num_{split}'])
            # Drop images left over from other settings.
            for old in set(os.listdir(folder)) - set(files):
                if old.endswith('.png'):
                    os.remove(osp.join(folder, old))
            for index, file in enumerate(files):
                rng = np.random.default_rng([seed, split_id, class_id, index])
                image = draw_sample(name, rng, img_size)
                Image.fromarray(image).save(osp.join(folder, file))
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=2)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy classification dataset.')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=100)
    parser.add_argument('--num-val', type=int, default=20)
    parser.add_argument('--img-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root = make_toy_classification(args.out_dir, args.num_train, args.num_val,
                                   args.img_size, args.seed)
    print(root)


if __name__ == '__main__':
    main()

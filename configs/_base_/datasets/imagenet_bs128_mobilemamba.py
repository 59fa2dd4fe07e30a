# ImageNet-1k with the official MobileMamba augmentation: random resized
# crop (bicubic), flip, timm's rand-m9-mstd0.5-inc1 RandAugment and random
# erasing 0.25 (pixel mode) for training; resize of the short side to
# size / 0.875 (bicubic) and centre crop for testing. 128 images per GPU.
# ``train_pipelines`` / ``test_pipelines`` hold the pipelines of each
# variant's resolution: a variant config picks its own, e.g.
# ``{{_base_.train_pipelines.res192}}``.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]


def _train_pipeline(size):
    return [
        dict(type='LoadImageFromFile'),
        dict(
            type='RandomResizedCrop',
            scale=size,
            backend='pillow',
            interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(
            type='RandAugment',
            policies='timm_increasing',
            num_policies=2,
            total_level=10,
            magnitude_level=9,
            magnitude_std=0.5,
            hparams=dict(
                pad_val=[round(x) for x in bgr_mean],
                interpolation='bicubic')),
        dict(
            type='RandomErasing',
            erase_prob=0.25,
            mode='rand',
            min_area_ratio=0.02,
            max_area_ratio=1 / 3,
            fill_color=bgr_mean,
            fill_std=bgr_std),
        dict(type='PackInputs'),
    ]


def _test_pipeline(size):
    return [
        dict(type='LoadImageFromFile'),
        dict(
            type='ResizeEdge',
            scale=int(size / 0.875),
            edge='short',
            backend='pillow',
            interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=size),
        dict(type='PackInputs'),
    ]


_sizes = (192, 224, 256, 384, 512)
train_pipelines = {f'res{size}': _train_pipeline(size) for size in _sizes}
test_pipelines = {f'res{size}': _test_pipeline(size) for size in _sizes}
del _sizes

# The official loader drops the last incomplete batch.
train_dataloader = dict(batch_size=128, num_workers=8, drop_last=True)
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = val_dataloader

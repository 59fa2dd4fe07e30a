_base_ = './ssdlite_mobilemamba-b1_8xb24-600e_coco-320.py'

# The same model trained and tested at 512x512, with the official anchors
# (downstream/det/configs/ssd/ssdlite_mobilemamba_b1_8gpu_2lr_512_coco.py):
# the anchor sizes and the last three strides of the 320 recipe, not
# rescaled to 512 (the six maps of 32 ... 1 pixels are at strides 16, 32,
# 64, 128, 256 and 512; the anchors are laid out on 16, 32, 64, 107, 160 and
# 320).
input_size = 512
model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            strides=[16, 32, 64, 107, 160, 320],
            min_sizes=[48, 100, 150, 202, 253, 304],
            max_sizes=[100, 150, 202, 253, 304, 320])))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='Expand',
        mean={{_base_.model.data_preprocessor.mean}},
        to_rgb={{_base_.model.data_preprocessor.bgr_to_rgb}},
        ratio_range=(1, 4)),
    dict(
        type='MinIoURandomCrop',
        min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
        min_crop_size=0.3),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# Checkpoints written atomically: a killed run leaves the last good one.
default_hooks = dict(
    checkpoint=dict(type='mmmobilemamba.AtomicCheckpointHook'))

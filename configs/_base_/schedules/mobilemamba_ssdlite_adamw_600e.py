_base_ = './mobilemamba_det_adamw_1x.py'

# The MobileMamba SSDLite schedule (the authors' "8gpu_2lr" recipe): the
# detection AdamW recipe at lr 2.4e-3 (twice 2e-4 * 6) for 8 GPUs x 24 images,
# 120 epochs of the 5-times repeated COCO train set (600 COCO epochs), the
# same warm-up and cosine over the second half.
adamw_optim_wrapper = dict(optimizer=dict(lr=2.4e-3))
warmup_cosine_120e = [
    _base_.warmup_cosine_1x[0],
    dict(_base_.warmup_cosine_1x[1], begin=60, end=120, T_max=60),
]

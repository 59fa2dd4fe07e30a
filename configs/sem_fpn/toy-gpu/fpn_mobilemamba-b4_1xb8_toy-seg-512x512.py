_base_ = ['../fpn_mobilemamba-b4_4xb8-160k_ade20k-512x512.py']

# Semantic FPN with MobileMamba-B4 as configured for ADE20K (model, 512x512
# crops, batch, schedule), trained for 60 iterations on the built-in toy
# segmentation dataset instead: the check that the real recipe trains, tests
# and infers on a GPU. The toy data is in the ADE20K layout and its labels are
# ADE20K class ids, so only the data root and the backbone's initialisation
# change. Generate the data first:
#   python -m mmmobilemamba.datasets.toy_segmentation data/toy_seg
# No ImageNet checkpoint here: the backbone starts from its own init.
model = dict(backbone=dict(init_cfg=None))
data_root = 'data/toy_seg'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=60, val_interval=60)
default_hooks = dict(checkpoint=dict(interval=60))

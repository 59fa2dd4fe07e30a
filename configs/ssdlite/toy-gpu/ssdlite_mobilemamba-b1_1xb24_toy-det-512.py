_base_ = ['../ssdlite_mobilemamba-b1_8xb24-600e_coco-512.py']

# SSDLite 512x512 with MobileMamba-B1 as configured for COCO (model, input
# size, batch, schedule), trained for a few epochs on the built-in toy
# detection dataset instead: the check that the real recipe trains, tests and
# infers on a GPU. Only the number of classes (the toy data's four) and the
# backbone's initialisation change. Generate the data first:
#   python -m mmmobilemamba.datasets.toy_detection data/toy_det
# No ImageNet checkpoint here: the backbone starts from its own init.
model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=4))
data_root = 'data/toy_det/'
metainfo = dict(classes=('disc', 'square', 'triangle', 'star'))
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            data_root=data_root,
            metainfo=metainfo,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'))))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)

_base_ = './mobilemamba-b1_finetune-1xb32-30e_custom.py'

# Linear probe: the fine-tuning recipe with the whole backbone frozen (the
# stem and stages 1-3: no parameter trains, BN keeps its ImageNet
# statistics), so that only the linear head learns, at a higher rate.
model = dict(backbone=dict(frozen_stages=3, norm_eval=True))
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))

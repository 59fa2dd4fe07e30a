_base_ = '../mobilemamba-b2_8xb128_in1k.py'

# BN-fused MobileMamba-B2 for inference: loads checkpoints written after
# model.switch_to_deploy().
model = dict(backbone=dict(deploy=True), head=dict(deploy=True))

"""A tiny custom MobileMamba arch that keeps model tests fast."""
TINY = dict(
    embed_dims=[48, 64, 80],
    depths=[1, 1, 1],
    kernel_sizes=[7, 5, 3],
    global_ratios=[0.8, 0.7, 0.6],
    local_ratios=[0.2, 0.2, 0.3],
    ssm_ratio=2.0,
    drop_path_rate=0.1)

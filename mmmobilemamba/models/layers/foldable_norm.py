"""Which norm layers the BN-fused (deploy) form folds into its convs."""
import inspect
from typing import Optional

from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm


def is_foldable_norm(norm_cfg: Optional[dict]) -> bool:
    """Whether ``norm_cfg`` builds a BatchNorm (SyncBN included), which
    :func:`mmcv.cnn.fuse_conv_bn` folds into the conv before it. Other norms
    (GN, IN, LN, ...) depend on each input's statistics and stay as they are
    in the deploy form. The type is resolved as
    :func:`mmcv.cnn.build_norm_layer` does."""
    if norm_cfg is None:
        return False
    layer = norm_cfg['type']
    if not inspect.isclass(layer):
        with MODELS.switch_scope_and_registry(None) as registry:
            layer = registry.get(layer)
    return inspect.isclass(layer) and issubclass(layer, _BatchNorm)

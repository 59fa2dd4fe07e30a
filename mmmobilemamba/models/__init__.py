"""Models. The backbone needs only torch, mmengine and mmcv; the parts built
on a toolbox register only when that toolbox is installed."""
import importlib.util

from .backbones import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

if importlib.util.find_spec('mmpretrain') is not None:
    from .classifiers import *  # noqa: F401,F403
    from .heads import *  # noqa: F401,F403

if importlib.util.find_spec('mmdet') is not None:
    from .dense_heads import *  # noqa: F401,F403
    from .necks import *  # noqa: F401,F403

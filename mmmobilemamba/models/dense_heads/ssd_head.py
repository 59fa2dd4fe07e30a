"""mmdet's SSDHead, made usable for inference in mmdet 3.3."""
from mmdet.models.dense_heads import SSDHead as MMDetSSDHead

from mmmobilemamba.registry import MODELS


@MODELS.register_module()
class SSDHead(MMDetSSDHead):
    """:class:`mmdet.models.dense_heads.SSDHead` that can also predict.

    mmdet 3.3's ``SSDHead`` never sets ``loss_cls``, which the shared
    ``predict_by_feat`` reads, so inference fails with ``'SSDHead' object
    has no attribute 'loss_cls'`` (open-mmlab/mmdetection#11063). This
    subclass sets it to ``None``: SSD computes its softmax cross-entropy
    (with hard negative mining) inline, and ``predict_by_feat`` then applies
    the plain softmax that matches it. Arguments, inputs and outputs are
    those of the parent, e.g. ``cls_scores`` of (N, A_i * (K + 1), H_i, W_i)
    per level.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self, 'loss_cls'):
            self.loss_cls = None

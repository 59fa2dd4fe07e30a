"""mmpretrain image classifier with a whole-model ``switch_to_deploy``."""
from mmpretrain.models.classifiers import ImageClassifier

from mmmobilemamba.registry import MODELS


@MODELS.register_module()
class MobileMambaClassifier(ImageClassifier):
    """mmpretrain's :class:`ImageClassifier` plus :meth:`switch_to_deploy`,
    which fuses every BatchNorm of the backbone, neck and head in place (the
    official ``replace_batchnorm``)."""

    def switch_to_deploy(self) -> None:
        for module in (self.backbone, self.neck, self.head):
            if hasattr(module, 'switch_to_deploy'):
                module.switch_to_deploy()

"""mmpretrain image classifier with a whole-model ``switch_to_deploy``."""
from mmpretrain.models.classifiers import ImageClassifier

from mmmobilemamba.registry import MODELS
from ..utils.state_dict_check import (restore_on_error,
                                      validate_state_dict_entries)


@MODELS.register_module()
class MobileMambaClassifier(ImageClassifier):
    """mmpretrain's :class:`ImageClassifier` plus :meth:`switch_to_deploy`,
    which fuses every BatchNorm of the backbone, neck and head in place (the
    official ``replace_batchnorm``).

    Loading is all or nothing for the whole model: every entry the model
    would load is validated (:func:`validate_state_dict_entries`) before any
    tensor is copied, on every load path (``load_state_dict``, mmengine's
    ``load_checkpoint``, ``init_cfg=dict(type='Pretrained')``, mmpretrain's
    ``get_model(pretrained=...)``), and a :meth:`load_state_dict` that
    raises leaves the weights as they were. mmengine's non-strict loads
    still skip (with a warning) head entries of another shape, e.g. for
    another ``num_classes``.
    """

    def switch_to_deploy(self) -> None:
        for module in (self.backbone, self.neck, self.head):
            if hasattr(module, 'switch_to_deploy'):
                module.switch_to_deploy()

    def load_state_dict(self, *args, **kwargs):
        with restore_on_error(self):
            return super().load_state_dict(*args, **kwargs)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Called first, with the entries of the whole model: nothing has
        # been copied yet.
        validate_state_dict_entries(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

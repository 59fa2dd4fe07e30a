"""Classifier trained with soft distillation from a frozen teacher."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from mmmobilemamba.registry import MODELS
from ..utils import OFFICIAL_TEACHER, load_teacher_checkpoint
from .mobilemamba_classifier import MobileMambaClassifier


@MODELS.register_module()
class DistillationClassifier(MobileMambaClassifier):
    """The official distilled (†) recipe: the student's loss is its
    classification loss plus a soft KD loss towards a frozen teacher's
    logits on the same (augmented, mixed) images.

    The teacher sees the student's batch de-normalised with the student's
    data preprocessor, re-normalised with ``teacher_mean``/``teacher_std``
    (0-255 scale) and resized to ``teacher_size`` as the official
    ``CLSKDLoss`` does (torchvision's tensor ``resize``, bicubic, no
    antialiasing). It is not a
    submodule: it follows the model's device and dtype, but stays out of
    ``parameters()``, the state dict and checkpoints (which hold the student
    only), and is always in eval mode.

    Args:
        teacher (dict): Config of any mmpretrain classifier whose
            ``forward(x, mode='tensor')`` returns logits over the student's
            classes, e.g. ``dict(type='TimmClassifier',
            model_name='tresnet_v2_l')``.
        teacher_ckpt (str): Teacher weights, loaded strictly (with
            ``weights_only``) by :meth:`init_weights`, i.e. when training
            starts; training without them is refused. An official TResNet
            checkpoint (InplaceABN layout) is converted on the fly. Not
            needed to build the model for inference or testing.
        distill_loss (dict): The KD loss. Defaults to
            ``dict(type='mmmobilemamba.SoftDistillationLoss')``.
        teacher_size (int, optional): Teacher input size; None keeps the
            student's. Defaults to 224.
        teacher_mean (Sequence[float]): Teacher normalisation mean.
        teacher_std (Sequence[float]): Teacher normalisation std.
        **kwargs: :class:`MobileMambaClassifier` arguments.
    """

    def __init__(self,
                 teacher: dict,
                 teacher_ckpt: Optional[str] = None,
                 distill_loss: dict = dict(
                     type='mmmobilemamba.SoftDistillationLoss'),
                 teacher_size: Optional[int] = 224,
                 teacher_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 teacher_std: Sequence[float] = (58.395, 57.12, 57.375),
                 **kwargs):
        super().__init__(**kwargs)
        teacher = MMPRETRAIN_MODELS.build(teacher)
        teacher.requires_grad_(False)
        # Kept out of self._modules: see the class docstring.
        self.__dict__['teacher'] = teacher.eval()
        self.teacher_ckpt = teacher_ckpt
        self.distill_loss = MODELS.build(distill_loss)
        self.teacher_size = teacher_size
        self.register_buffer(
            'teacher_mean',
            torch.tensor(teacher_mean, dtype=torch.float32).view(-1, 1, 1),
            persistent=False)
        self.register_buffer(
            'teacher_std',
            torch.tensor(teacher_std, dtype=torch.float32).view(-1, 1, 1),
            persistent=False)

    def init_weights(self) -> None:
        if self.teacher_ckpt is None:
            raise ValueError(
                'DistillationClassifier needs the teacher weights to train: '
                'set model.teacher_ckpt (e.g. --cfg-options '
                'model.teacher_ckpt=PATH) to a checkpoint of the teacher; '
                f'the official recipe distils from {OFFICIAL_TEACHER}. '
                'A randomly initialised teacher would teach nothing.')
        load_teacher_checkpoint(self.teacher, self.teacher_ckpt)
        super().init_weights()

    def _apply(self, fn, *args, **kwargs):
        self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    @torch.no_grad()
    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits for a batch normalised for the student."""
        preprocessor = self.data_preprocessor
        images = inputs * preprocessor.std + preprocessor.mean
        images = (images - self.teacher_mean) / self.teacher_std
        if self.teacher_size is not None and \
                images.shape[-2:] != (self.teacher_size, ) * 2:
            images = F.interpolate(
                images,
                size=(self.teacher_size, self.teacher_size),
                mode='bicubic',
                align_corners=False,
                antialias=False)
        return self.teacher(images, mode='tensor')

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        logits = self.head(self.extract_feat(inputs))
        if isinstance(logits, tuple):
            raise ValueError('DistillationClassifier distils into the plain '
                             'head; build the head with distillation=False')
        losses = self.head._get_loss(logits, data_samples)
        losses['loss_distill'] = self.distill_loss(logits,
                                                   self.teacher_logits(inputs))
        return losses

"""Soft knowledge-distillation loss (DeiT / the official ``CLSKDLoss``)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmobilemamba.registry import MODELS


@MODELS.register_module()
class SoftDistillationLoss(nn.Module):
    """``loss_weight * tau^2 * KL(softmax(t / tau) || softmax(s / tau))``,
    summed over classes and averaged over the batch.

    Args:
        tau (float): Softmax temperature. Defaults to 1.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Shape:
        student, teacher: (B, num_classes) logits -> scalar
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        if student.shape != teacher.shape:
            raise ValueError(
                f'student logits {tuple(student.shape)} and teacher logits '
                f'{tuple(teacher.shape)} differ; the teacher must predict '
                'the same classes as the student')
        log_s = F.log_softmax(student.float() / self.tau, dim=1)
        log_t = F.log_softmax(teacher.float() / self.tau, dim=1)
        kl = F.kl_div(log_s, log_t, reduction='sum', log_target=True)
        return self.loss_weight * kl * self.tau**2 / student.shape[0]

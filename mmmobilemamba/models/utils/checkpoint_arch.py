"""Which MobileMamba arch a state dict in this package's naming holds."""
import functools
from typing import Dict, Mapping, Optional, Tuple

import torch.nn as nn

#: The archs with a network of their own (B2 and B4 are B1's network).
NETWORK_ARCHS = ('t2', 't4', 's6', 'b1')


def arch_label(arch: str) -> str:
    """``'T2'``, ..., ``'B1/B2/B4'`` (one network at three resolutions)."""
    return 'B1/B2/B4' if arch in ('b1', 'b2', 'b4') else arch.upper()


@functools.lru_cache(maxsize=None)
def reference_shapes(arch: str, deploy: bool = False) -> Dict[str, tuple]:
    """Key -> shape of the state dict of ``MobileMamba(arch, deploy)``."""
    from ..backbones import MobileMamba  # the backbone imports this package
    model = MobileMamba(arch, deploy=deploy)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _shapes(state_dict: Mapping) -> Dict[str, Optional[tuple]]:
    return {
        k: tuple(v.shape) if hasattr(v, 'shape') else None
        for k, v in state_dict.items()
    }


def closest_arch(state_dict: Mapping, deploy: bool = False) -> Tuple[str, int]:
    """The arch whose backbone has the most of these keys with these shapes,
    and how many it has."""
    shapes = _shapes(state_dict)

    def matching(arch):
        reference = reference_shapes(arch, deploy)
        return sum(reference.get(k) == shape for k, shape in shapes.items())

    arch = max(NETWORK_ARCHS, key=matching)
    return arch, matching(arch)


def detect_arch(state_dict: Mapping, deploy: bool = False) -> Optional[str]:
    """The arch whose backbone state dict has exactly these keys and shapes
    (``num_batches_tracked`` may be absent), or None."""
    shapes = _shapes(state_dict)
    for arch in NETWORK_ARCHS:
        reference = reference_shapes(arch, deploy)
        optional = {k for k in reference if k.endswith('num_batches_tracked')}
        if shapes.keys() <= reference.keys() and all(
                shapes[k] == reference[k] for k in shapes) and \
                reference.keys() - shapes.keys() <= optional:
            return arch
    return None


def module_arch(module: nn.Module) -> Optional[str]:
    """The arch a built MobileMamba was made with, or None for a custom
    one (``drop_path_rate`` aside)."""
    from ..backbones import MobileMamba
    settings = dict(getattr(module, 'arch_settings', {}))
    settings.pop('drop_path_rate', None)
    for arch, zoo in MobileMamba.arch_zoo.items():
        zoo = dict(zoo)
        zoo.pop('drop_path_rate', None)
        if zoo == settings:
            return 'b1' if arch in ('b2', 'b4') else arch
    return None


def arch_mismatch_hint(module: nn.Module,
                       state_dict: Mapping,
                       prefix: str = '') -> Optional[str]:
    """A hint naming the arch of ``state_dict``'s MobileMamba backbone (its
    keys under ``prefix``) where it is not the arch of ``module``; None
    where it is, or where the entries are no arch's backbone."""
    given = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    arch = detect_arch(given, deploy=bool(getattr(module, 'deploy', False)))
    built = module_arch(module)
    if arch is None or arch == built:
        return None
    model = (f'MobileMamba-{arch_label(built)}'
             if built else 'a MobileMamba of a custom arch')
    return (f'hint: the checkpoint holds a MobileMamba-{arch_label(arch)} '
            "backbone (a converted file records it as meta['arch']) and the "
            f"model is {model}: build the model with arch='{arch}', or load "
            'a checkpoint of the model\'s arch')

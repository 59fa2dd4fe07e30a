"""Keep the toolboxes importable beside packages they predate.

mmpretrain 1.2.0 imports its multimodal models (BLIP, Flamingo, ...) whenever
``transformers>=4.28`` is installed, and their code needs names that
transformers 5 removed: ``import mmpretrain.models`` then dies with
``TypeError: NoneType takes no arguments``, and so do ``import mmdet.models``
(its ReID models import mmpretrain) and everything built on them. MobileMamba
uses none of the multimodal models, so with such a transformers their
registration is switched off (mmpretrain then registers placeholders that say
what is missing if one is built). This has to happen before the first import
of ``mmpretrain.models``: ``import mmmobilemamba`` does it first thing, and
configs import the package through ``custom_imports`` before any model is
built.
"""
import logging
import sys
from importlib import metadata, util

#: The first transformers release whose API mmpretrain 1.2.0's multimodal
#: models cannot import.
FIRST_INCOMPATIBLE_TRANSFORMERS = 5


def _major(version: str) -> int:
    head = version.split('.', 1)[0]
    return int(head) if head.isdigit() else 0


def transformers_breaks_mmpretrain() -> bool:
    """Whether the installed transformers is too new for mmpretrain's
    multimodal models (read from the metadata, without importing it)."""
    try:
        version = metadata.version('transformers')
    except metadata.PackageNotFoundError:
        return False
    return _major(version) >= FIRST_INCOMPATIBLE_TRANSFORMERS


def keep_mmpretrain_importable() -> bool:
    """Switch off mmpretrain's multimodal models where the installed
    transformers breaks them. Returns whether it did.

    Does nothing if mmpretrain is absent, its models are already imported
    (too late to help; an import error there names the cause), or the
    installed transformers works with them.
    """
    if 'mmpretrain.models' in sys.modules:
        return False
    if not transformers_breaks_mmpretrain():
        return False
    if util.find_spec('mmpretrain') is None:
        return False
    from mmpretrain.utils import dependency
    if not dependency.WITH_MULTIMODAL:
        return False
    dependency.WITH_MULTIMODAL = False
    logging.getLogger(__name__).info(
        'transformers %s is too new for the multimodal models of mmpretrain '
        '%s; they are not registered (MobileMamba does not use them). '
        'Install "transformers<5" to use them.',
        metadata.version('transformers'), metadata.version('mmpretrain'))
    return True

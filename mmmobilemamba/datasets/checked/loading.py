"""Image loading that names the file it cannot read, and the datasets'
switch to it."""
import copy

from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from mmmobilemamba.registry import TRANSFORMS


def unreadable_file_error(kind, path, error, backend_args=None):
    """The error to raise for the ``kind`` file (e.g. ``'image'``) at
    ``path`` that ``error`` kept from being decoded: it names the file and
    says whether it is empty."""
    try:
        empty = len(fileio.get(path, backend_args=backend_args)) == 0
    except Exception:  # the original error says more
        empty = False
    problem = ('is empty (0 bytes)' if empty else
               f'cannot be decoded ({type(error).__name__}: {error})')
    return ValueError(
        f'{kind} file {path} {problem}: replace it with a good copy (e.g. '
        'download or extract the dataset again) or remove it from the '
        'annotations')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose errors on an empty or undecodable
    file name the file (a missing file raises ``FileNotFoundError`` as
    before; with ``ignore_empty=True`` such samples are skipped as
    before)."""

    def transform(self, results):
        try:
            return super().transform(results)
        except FileNotFoundError:
            raise
        except Exception as error:
            raise unreadable_file_error('image', results['img_path'], error,
                                        self.backend_args) from error


def with_checked_loaders(pipeline, checked):
    """A copy of ``pipeline`` (transform configs) where each transform whose
    type is a key of ``checked`` (a class, given by itself or its registered
    name) has the checked subclass ``checked[key]`` as its type."""
    names = {cls.__name__: cls for cls in checked}
    pipeline = copy.deepcopy(list(pipeline))
    for transform in pipeline:
        if not isinstance(transform, dict):
            continue
        cls = names.get(transform.get('type'), transform.get('type'))
        if isinstance(cls, type) and cls in checked:
            transform['type'] = checked[cls]
    return pipeline


class CheckedLoadersMixin:
    """Mixin for a dataset class: its pipeline uses the checked subclass
    ``checked_loaders[cls]`` wherever it names a loader ``cls``."""

    checked_loaders = {LoadImageFromFile: CheckedLoadImageFromFile}

    def __init__(self, *args, pipeline=(), **kwargs):
        super().__init__(
            *args,
            pipeline=with_checked_loaders(pipeline, self.checked_loaders),
            **kwargs)

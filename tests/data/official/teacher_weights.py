"""Deterministic weights for a TResNet state dict in the official
(InplaceABN) layout, shared by ``record.py`` and the tests."""
import torch


def read_listing(path):
    """``[(key, shape, dtype)]`` of a ``key<TAB>[d0,...]<TAB>dtype`` file."""
    entries = []
    with open(path) as f:
        for line in f:
            key, shape, dtype = line.rstrip('\n').split('\t')
            dims = shape.strip('[]')
            entries.append((key, tuple(int(d) for d in dims.split(',')
                                       if d), getattr(torch, dtype)))
    return entries


def make_teacher_state_dict(entries, seed=0):
    """Weights that keep the activations at a steady scale through the
    network (He-scaled convs, gains of 0.5-0.9), drawn in listing order from
    one seeded generator.
    InplaceABN gains are signed: the layout stores them before ``abs``."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in entries:
        if dtype == torch.int64:
            state[key] = torch.zeros(shape, dtype=dtype)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(('running_mean', 'bias')):
            state[key] = torch.randn(shape, generator=g) * 0.03
        elif len(shape) == 1:  # norm gains
            sign = torch.randint(0, 2, shape, generator=g) * 2 - 1
            state[key] = sign * (torch.rand(shape, generator=g) * 0.4 + 0.5)
        else:
            fan_in = int(torch.tensor(shape[1:]).prod())
            state[key] = torch.randn(shape, generator=g) * (2 / fan_in)**0.5
    return state


def teacher_input():
    """The (2, 3, 224, 224) images in [0, 1] the logits were recorded on:
    smooth random blobs, so that the two images differ after pooling."""
    blobs = torch.rand(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.interpolate(
        blobs, size=(224, 224), mode='bilinear', align_corners=False)

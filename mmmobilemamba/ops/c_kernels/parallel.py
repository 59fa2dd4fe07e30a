"""How the C kernels split their work over threads.

The kernels run their own OpenMP loops. Linked to the OpenMP runtime that
PyTorch loaded (see :func:`~.library.openmp_runtime`), they run on
PyTorch's intra-op threads, which are still spinning from the last PyTorch
op: starting them costs about a microsecond, not the tens of microseconds
of waking a sleeping thread.
"""
import torch

#: Below this many output elements one thread does all the work.
MIN_PARALLEL_SIZE = 1 << 12


def num_threads(size: int) -> int:
    """Threads for a kernel writing ``size`` elements:
    ``torch.get_num_threads()``, or 1 for a small one."""
    return 1 if size < MIN_PARALLEL_SIZE else torch.get_num_threads()


def channel_chunk(batch: int, channels: int, threads: int) -> int:
    """Channels per work item of a kernel that splits (batch item, channel
    chunk) pairs over ``threads``: whole items where they share out evenly,
    else ``threads`` chunks of whole 8-float vectors per item."""
    if batch % threads == 0:
        return channels
    share = -(-channels // threads)
    return (share + 7) // 8 * 8

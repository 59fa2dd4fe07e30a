"""Run a C kernel over batch items or channel ranges on several threads."""
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Tuple

import torch

#: Below this many output elements one thread does all the work.
MIN_PARALLEL_SIZE = 1 << 14
_POOLS: Dict[int, ThreadPoolExecutor] = {}


def partition(batch: int, channels: int,
              workers: int) -> List[Tuple[int, int, int, int]]:
    """(b_start, b_stop, c_start, c_stop) of each worker: whole batch items
    where there are enough, else channel ranges of whole 8-float vectors."""
    if batch >= workers:
        step = -(-batch // workers)
        return [(b, min(batch, b + step), 0, channels)
                for b in range(0, batch, step)]
    step = (-(-channels // workers) + 7) // 8 * 8
    return [(0, batch, c, min(channels, c + step))
            for c in range(0, channels, step)]


def run_split(kernel: Callable, batch: int, channels: int, size: int) -> None:
    """``kernel(b_start, b_stop, c_start, c_stop)`` over the whole
    (batch, channels) range, split over ``torch.get_num_threads()`` threads
    when ``size`` (elements written) is worth it. ctypes releases the GIL
    for the kernel's duration; the split does not change the result."""
    workers = torch.get_num_threads()
    if workers == 1 or size < MIN_PARALLEL_SIZE:
        kernel(0, batch, 0, channels)
        return
    parts = partition(batch, channels, workers)
    if len(parts) not in _POOLS:
        _POOLS[len(parts)] = ThreadPoolExecutor(
            len(parts), thread_name_prefix='mmmobilemamba-c')
    done = _POOLS[len(parts)].map(lambda part: kernel(*part), parts)
    list(done)  # waits, and re-raises what a worker raised

"""How the Triton backend is registered (runs on CPU, compiles nothing)."""
import pytest
import torch

from mmmobilemamba.ops import dispatch, list_backends, use_backend
from mmmobilemamba.ops.triton import OPS

CPU = torch.device('cpu')


@pytest.mark.parametrize('op', OPS)
def test_triton_ranks_first_but_cpu_tensors_pass_it_over(op):
    assert list_backends(op)[0] == 'triton'
    chosen = dispatch(op, CPU).__name__
    assert chosen.endswith('_torch') or chosen.endswith('_c')


@pytest.mark.parametrize('op', OPS)
def test_forcing_triton_on_cpu_tensors_is_refused(op):
    with use_backend('triton', op):
        with pytest.raises(RuntimeError, match="'triton'.*cuda"):
            dispatch(op, CPU)

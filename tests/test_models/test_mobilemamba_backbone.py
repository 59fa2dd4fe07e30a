"""Arguments, training-time behaviour and bad input of the backbone."""
import copy

import pytest
import torch
from tiny_arch import TINY
from torch.nn.modules.batchnorm import _BatchNorm

from mmmobilemamba.models import MobileMamba


def test_arch_zoo_shapes():
    model = MobileMamba('b1', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 320, 224))
    assert [tuple(o.shape)
            for o in outs] == [(1, 200, 20, 14), (1, 200, 20, 14),
                               (1, 376, 10, 7), (1, 448, 5, 4)]
    assert model.out_channels == [200, 200, 376, 448]


def test_cpu_outputs_are_contiguous_whatever_the_input_layout():
    """The CPU path runs channels-last inside but hands NCHW-contiguous
    levels on (downstream CPU kernels such as mmcv's RoIAlign read raw NCHW
    memory), equal for either input memory format."""
    model = MobileMamba(TINY, out_indices=(0, 1, 2, 3)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = model(x)
        outs_cl = model(x.contiguous(memory_format=torch.channels_last))
    for out, out_cl in zip(outs, outs_cl):
        assert out.is_contiguous() and out_cl.is_contiguous()
        torch.testing.assert_close(out, out_cl)


def test_blocks_keep_the_channels_last_layout_on_cpu():
    """Every block of the CPU path hands on a channels-last map, also where
    MRFFI has no identity channels (B1's first stage): a layout change
    sends the 1x1 convs to oneDNN and copies the residual stream."""
    model = MobileMamba('b1', deploy=True).eval()
    assert 0 in [m.split[2] for m in model.modules() if hasattr(m, 'split')]
    layouts = []
    for module in model.modules():
        if type(module).__name__ in ('MRFFI', 'MobileMambaBlock'):
            module.register_forward_hook(
                lambda m, args, out: layouts.append(out.stride(1) == 1))
    with torch.no_grad():
        model(torch.randn(1, 3, 128, 128))
    assert layouts and all(layouts)


def test_arch_is_case_insensitive_and_b_series_share_a_network():
    shapes = {
        arch: {
            k: v.shape
            for k, v in MobileMamba(arch).state_dict().items()
        }
        for arch in ('B1', 'b2', 'b4')
    }
    assert shapes['B1'] == shapes['b2'] == shapes['b4']


def test_unknown_arch_lists_valid_ones():
    with pytest.raises(
            ValueError,
            match=r"unknown MobileMamba arch 'b3'.*"
            r"\['b1', 'b2', 'b4', 's6', 't2', 't4'\]"):
        MobileMamba('b3')


def test_custom_arch_dict_keys_are_checked():
    MobileMamba(TINY)
    missing = {k: v for k, v in TINY.items() if k != 'depths'}
    with pytest.raises(ValueError, match=r"missing \['depths'\]"):
        MobileMamba(missing)
    with pytest.raises(ValueError, match=r"unexpected \['heads'\]"):
        MobileMamba(dict(TINY, heads=4))
    with pytest.raises(ValueError, match='one value per stage'):
        MobileMamba(dict(TINY, depths=[1, 1]))
    with pytest.raises(TypeError, match='arch must be a str or a dict'):
        MobileMamba(3)


@pytest.mark.parametrize('out_indices,expected', [(-1, [3]), (0, [0]),
                                                  ((1, -2), [1, 2]),
                                                  ([3, 1], [3, 1])])
def test_out_indices(out_indices, expected):
    model = MobileMamba(TINY, out_indices=out_indices).eval()
    assert model.out_indices == expected
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 128, 128))
    channels = [48, 48, 64, 80]
    assert [o.shape[1] for o in outs] == [channels[i] for i in expected]


@pytest.mark.parametrize('bad', [4, -5, (0, 7)])
def test_out_indices_out_of_range(bad):
    with pytest.raises(ValueError, match='out_indices entry .* out of range'):
        MobileMamba(TINY, out_indices=bad)


@pytest.mark.parametrize('bad', [-2, 4])
def test_frozen_stages_out_of_range(bad):
    with pytest.raises(
            ValueError, match=r'frozen_stages must be in \[-1, 3\]'):
        MobileMamba(TINY, frozen_stages=bad)


@pytest.mark.parametrize('frozen_stages', [0, 1, 3])
def test_frozen_stages(frozen_stages):
    model = MobileMamba(TINY, frozen_stages=frozen_stages)
    model.train()
    frozen = [model.patch_embed] + list(model.stages[:frozen_stages])
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    for stage in model.stages[frozen_stages:]:
        assert stage.training
        assert all(p.requires_grad for p in stage.parameters())
    # A training step leaves frozen parameters and statistics untouched.
    before = copy.deepcopy(model.state_dict())
    trainable = [p for p in model.parameters() if p.requires_grad]
    out = model(torch.randn(2, 3, 64, 64))[0]
    if trainable:
        out.sum().backward()
        torch.optim.SGD(trainable, lr=0.1).step()
    after = model.state_dict()
    prefixes = ['patch_embed.'
                ] + [f'stages.{i}.' for i in range(frozen_stages)]
    for key in before:
        if key.startswith(tuple(prefixes)):
            assert torch.equal(before[key], after[key]), key
    changed = not all(torch.equal(before[k], after[k]) for k in before)
    assert changed == bool(trainable)


def test_norm_eval():
    model = MobileMamba(TINY, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not bn.training for bn in bns)
    assert MobileMamba(TINY).train().patch_embed[0].bn.training


def test_with_cp_gives_same_gradients():
    torch.manual_seed(0)
    model = MobileMamba(TINY, drop_path_rate=0.)
    model_cp = MobileMamba(TINY, drop_path_rate=0., with_cp=True)
    model_cp.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for m in (model, model_cp):
        m.train()
        m(x)[0].square().mean().backward()
    for (name, p), p_cp in zip(model.named_parameters(),
                               model_cp.parameters()):
        torch.testing.assert_close(p.grad, p_cp.grad, msg=name)


def test_drop_path_is_active_in_training_only():
    model = MobileMamba(dict(TINY, drop_path_rate=0.5), out_indices=(3, ))
    assert model.stages[-1].blocks[-1].drop_path.drop_prob == pytest.approx(
        0.5)
    x = torch.randn(16, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x)[0])
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.equal(model(x)[0], model(x)[0])


def test_switch_to_deploy_matches_and_loads_into_deploy_model():
    torch.manual_seed(0)
    model = MobileMamba(TINY, out_indices=(1, 2, 3))
    model.init_weights()
    # Non-trivial statistics, so that fusion has something to fold in.
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, 96, 96))
    model.eval()
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        ref = model(x)
        model.switch_to_deploy()
        fused = model(x)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    for r, f in zip(ref, fused):
        torch.testing.assert_close(f, r, atol=1e-4, rtol=1e-4)
    deployed = MobileMamba(TINY, out_indices=(1, 2, 3), deploy=True).eval()
    deployed.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        for f, d in zip(fused, deployed(x)):
            torch.testing.assert_close(d, f, atol=0, rtol=0)


def test_deploy_form_applies_relus_in_the_conv_kernels():
    """BN fusion also moves the ReLUs after the stem's first conv, MRFFI's
    local conv and PatchMerging's strided conv into those convs; the deploy
    constructor builds the same."""
    model = MobileMamba('t2').eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        outputs = model(x)
    built = MobileMamba('t2', deploy=True)
    for form in (model, built):
        folded = [
            name for name, m in form.named_modules()
            if getattr(m, 'activation', None) == 'relu'
        ]
        assert {n.split('.')[-2] for n in folded} == {'0', 'conv2'}
        assert len(folded) == 1 + 5 + 2  # stem, 5 blocks, 2 downsamples
    for out, ref in zip(outputs, expected):
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_init_weights_zero_inits_residual_branches():
    model = MobileMamba(TINY)
    model.init_weights()
    block = model.stages[0].blocks[0]
    for bn in (block.dw0.bn, block.ffn0.pw2.bn, block.mrffi.proj.bn):
        assert torch.count_nonzero(bn.weight) == 0
    assert torch.count_nonzero(block.ffn0.pw1.bn.weight) > 0
    transition = model.stages[1].downsample
    assert torch.count_nonzero(transition.ffn_pre.pw2.bn.weight) == 0
    assert torch.count_nonzero(transition.dw_pre.bn.weight) > 0
    ss2d = block.mrffi.wte_mamba.ss2d
    assert torch.all(ss2d.Ds == 1) and torch.all(ss2d.A_logs == 0)
    for param in (ss2d.dt_projs_weight, ss2d.dt_projs_bias):
        assert param.min() >= 0 and param.max() <= 0.1


def test_training_step_backpropagates_to_every_parameter():
    model = MobileMamba(TINY, out_indices=(1, 2, 3)).train()
    outs = model(torch.randn(2, 3, 64, 96))
    sum(o.mean() for o in outs).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad


def test_wrong_input_channels():
    model = MobileMamba(TINY)
    with pytest.raises(
            ValueError,
            match='built for 3-channel inputs, got 1 '
            r'channels.*set in_channels=1'):
        model(torch.randn(1, 1, 64, 64))
    assert MobileMamba(
        TINY, in_channels=1).eval()(torch.randn(1, 1, 64,
                                                64))[0].shape == (1, 80, 1, 1)


def test_input_too_small():
    with pytest.raises(
            ValueError,
            match=r'input of size 48x64 is smaller '
            r'than the total stride 64.*at least 64x64'):
        MobileMamba(TINY)(torch.randn(1, 3, 48, 64))
    # Shallower levels only need their own stride.
    out, = MobileMamba(TINY, out_indices=1).eval()(torch.randn(1, 3, 16, 16))
    assert out.shape == (1, 48, 1, 1)


def test_non_4d_input():
    with pytest.raises(
            ValueError,
            match=r'4D \(B, C, H, W\) input, got '
            r'shape \(3, 64, 64\)'):
        MobileMamba(TINY)(torch.randn(3, 64, 64))

"""The model-zoo metadata: configs/mobilemamba/metafile.yml, model-index.yml.

FLOPs and parameters are re-measured with the FLOP tool, so the metadata
cannot drift from the configs.
"""
import os.path as osp

import pytest
import torch
import yaml

from mmmobilemamba.analysis import analyze_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METAFILE = 'configs/mobilemamba/metafile.yml'
# The paper's ImageNet-1k top-1 (plain, distilled).
PAPER_TOP1 = dict(
    t2=(73.6, 76.9),
    t4=(76.1, 78.9),
    s6=(78.0, 80.7),
    b1=(79.9, 82.2),
    b2=(81.6, 83.3),
    b4=(82.5, 83.6))
# Each variant's evaluation resolution.
RESOLUTION = dict(t2=192, t4=192, s6=224, b1=256, b2=384, b4=512)


def load_models():
    with open(osp.join(REPO, METAFILE)) as f:
        return {model['Name']: model for model in yaml.safe_load(f)['Models']}


MODELS = load_models()


def plain_name(variant):
    return f'mobilemamba-{variant}_8xb128_in1k'


def distill_name(variant):
    return f'mobilemamba-{variant}-distill_8xb128_in1k'


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tracing needs no intra-op parallelism; one thread keeps it fast when
    other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_model_index_imports_metafile():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        assert METAFILE in yaml.safe_load(f)['Import']
    modelindex = pytest.importorskip('modelindex')
    index = modelindex.load(osp.join(REPO, 'model-index.yml'))
    assert sorted(model.name for model in index.models) == sorted(MODELS)


def test_entries():
    """Six variants, each plain and distilled, with the paper's top-1."""
    assert len(MODELS) == 12
    for variant, top1s in PAPER_TOP1.items():
        for name, top1 in zip((plain_name(variant), distill_name(variant)),
                              top1s):
            model = MODELS[name]
            assert model['Config'] == f'configs/mobilemamba/{name}.py'
            assert model['In Collection'] == 'MobileMamba'
            assert model['Results'] == [
                dict(
                    Dataset='ImageNet-1k',
                    Metrics={'Top 1 Accuracy': top1},
                    Task='Image Classification')
            ]
            assert 'lewandofskee/MobileMamba' in model['Converted From'][
                'Code']


@pytest.mark.parametrize('variant', sorted(PAPER_TOP1))
def test_flops_and_params_match_the_tool(variant):
    """The metadata equals what the tool measures now, at the variant's test
    resolution. A distilled model is its plain sibling's network (only the
    training differs), so it carries the same numbers."""
    plain = MODELS[plain_name(variant)]
    result = analyze_config(osp.join(REPO, plain['Config']))
    assert result['input_shape'][2:] == (RESOLUTION[variant], ) * 2
    assert plain['Metadata']['FLOPs'] == result['flops']
    assert plain['Metadata']['Parameters'] == result['params']
    distilled = MODELS[distill_name(variant)]['Metadata']
    assert distilled['FLOPs'] == result['flops']
    assert distilled['Parameters'] == result['params']


@pytest.mark.parametrize('name', sorted(MODELS))
def test_config_exists(name):
    path = osp.join(REPO, MODELS[name]['Config'])
    if '-distill' in name and not osp.exists(path):
        pytest.skip(f'{MODELS[name]["Config"]} is not in the repository '
                    'yet')
    assert osp.isfile(path)

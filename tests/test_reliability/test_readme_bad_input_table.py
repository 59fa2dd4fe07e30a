"""README's table of bad inputs cites tests that exist."""
import ast
import os.path as osp
import re

from tool_runner import REPO

HERE = osp.dirname(__file__)
CITATION = re.compile(r'`(test_\w+\.py)::(test_\w+)`')


def table_citations():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    start = readme.index('What each kind of bad input gets')
    table = readme[start:readme.index('\n## ', start)]
    return CITATION.findall(table)


def test_every_cited_test_exists():
    citations = table_citations()
    assert len(citations) >= 30
    missing = []
    for file_name, test_name in citations:
        with open(osp.join(HERE, file_name)) as f:
            tree = ast.parse(f.read())
        names = {
            node.name
            for node in tree.body if isinstance(node, ast.FunctionDef)
        }
        if test_name not in names:
            missing.append(f'{file_name}::{test_name}')
    assert not missing, f'README cites tests that do not exist: {missing}'

"""The README's recipe table names tests that exist."""
import glob
import os.path as osp
import re

from conftest import REPO


def test_every_test_named_in_the_recipe_table_exists():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    section = readme.split('## Training recipes')[1].split('\n## ')[0]
    rows = [line for line in section.splitlines() if line.startswith('| ')]
    named = set(re.findall(r'`(test_\w+)`', '\n'.join(rows)))
    defined = set()
    for path in glob.glob(osp.join(REPO, 'tests', 'test_recipes', '*.py')):
        with open(path) as f:
            defined |= set(re.findall(r'^def (test_\w+)', f.read(), re.M))
    assert len(rows) >= 14
    assert named and named <= defined, named - defined

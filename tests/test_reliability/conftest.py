"""Reuse the subprocess helpers of ``tests/test_tools``."""
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_tools'))

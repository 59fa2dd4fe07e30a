"""Test (and evaluate) a checkpoint with an mmpretrain, mmdet or mmseg
config.

The toolbox is chosen from the config's ``default_scope``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults

from mmmobilemamba.utils import (build_runner, setup_cpu_distributed,
                                 setup_toolbox, teardown_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out',
        help='dump the predictions: a .pkl file (mmpretrain, mmdet) or a '
        'folder of prediction maps (mmseg)')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--show-dir', help='the dir to save the painted predictions')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='show or save every N-th prediction')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value or a.b="[1,2]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, scope, args):
    """Switch the toolbox's visualization hook on for --show/--show-dir."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise RuntimeError('--show and --show-dir need a `visualization` '
                           'hook in default_hooks')
    hook.update(
        show=args.show, wait_time=args.wait_time, interval=args.interval)
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=args.show_dir)
    else:
        hook.draw = True
        if args.show_dir and scope == 'mmdet':
            hook.test_out_dir = args.show_dir
        elif args.show_dir:
            cfg.visualizer.save_dir = args.show_dir


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    scope = setup_toolbox(cfg)
    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args)
    if args.out and scope == 'mmseg':
        cfg.test_evaluator.update(output_dir=args.out, keep_results=True)
    setup_cpu_distributed(cfg)
    runner = build_runner(cfg)
    if args.out and scope != 'mmseg':
        dump = DumpResults
        if scope == 'mmdet':
            from mmdet.evaluation import DumpDetResults as dump
        runner.test_evaluator.metrics.append(dump(out_file_path=args.out))
    try:
        runner.test()
    except BaseException:
        teardown_distributed()
        raise
    teardown_distributed(barrier=True)


if __name__ == '__main__':
    main()

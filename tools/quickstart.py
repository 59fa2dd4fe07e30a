"""Train, evaluate and try out MobileMamba on every task, with no download.

For each task this builds (or reuses) its built-in dataset, trains the task's
toy config with the mmengine Runner, evaluates the model on the validation
set (COCO box mAP, mmseg's IoU metric, top-1), paints the predictions of the
toolbox's inference API on a few images, then prints a summary table and
writes it to ``WORK_DIR/summary.md``::

    python tools/quickstart.py [--tasks det seg cls] [--max-iters N]

A second run resumes an interrupted task from its latest checkpoint and
reuses the results of the finished ones.
"""
import argparse
import glob
import importlib
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RESULT_FILE = 'result.json'
SUMMARY_FILE = 'summary.md'
NUM_IMAGES = 3


@dataclass(frozen=True)
class Task:
    """One quick-start task."""
    #: The toy config, relative to the repository.
    config: str
    #: Its dataset's module in ``mmmobilemamba.datasets``.
    dataset: str
    #: The images to paint: a glob under the dataset root.
    images: str
    #: The metrics that the summary shows.
    metrics: Tuple[str, ...]


TASKS = {
    'det':
    Task('configs/retinanet/toy/retinanet_mobilemamba-t2_fpn_toy-det.py',
         'toy_detection', 'val/*.jpg', ('coco/bbox_mAP', 'coco/bbox_mAP_50')),
    'seg':
    Task('configs/sem_fpn/toy/fpn_mobilemamba-t2_1xb8_toy-seg.py',
         'toy_segmentation', 'images/validation/*.jpg', ('mIoU', 'aAcc')),
    'cls':
    Task('configs/mobilemamba/toy/mobilemamba-t2_1xb32_toy-cls.py',
         'toy_classification', 'val/*/*_0000.png', ('accuracy/top1', )),
    'ins':
    Task('configs/mask_rcnn/toy/mask-rcnn_mobilemamba-t2_fpn_toy-det.py',
         'toy_detection', 'val/*.jpg', ('coco/bbox_mAP', 'coco/segm_mAP')),
}
DEFAULT_TASKS = ('det', 'seg', 'cls')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train, evaluate and run inference for each task on the '
        'built-in datasets, then summarise')
    parser.add_argument(
        '--tasks',
        nargs='+',
        choices=list(TASKS),
        default=list(DEFAULT_TASKS),
        help='det: RetinaNet on the COCO-format data; seg: Semantic FPN on '
        'the ADE20K-format data; cls: the classifier; ins: Mask R-CNN '
        f'(default: {" ".join(DEFAULT_TASKS)})')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/quickstart',
        help='where the checkpoints, logs, paintings and summary go '
        '(default: %(default)s)')
    parser.add_argument(
        '--data-dir',
        default='data',
        help='where the built-in datasets are built: DATA_DIR/toy_det, ... '
        'as the toy configs expect (default: %(default)s)')
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        help='default: cuda when available, else cpu')
    parser.add_argument(
        '--max-iters',
        type=int,
        help='train every task for this many iterations instead of its '
        "config's schedule")
    args = parser.parse_args()
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be positive, got {args.max_iters}')
    return args


def select_device(requested):
    """The device to use; hides CUDA for ``cpu`` (the Runner takes CUDA
    whenever it sees it)."""
    if requested == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
        return 'cpu'
    import torch
    if torch.cuda.is_available():
        return 'cuda'
    if requested == 'cuda':
        raise SystemExit('--device cuda: no CUDA device is visible; run with '
                         '--device cpu')
    return 'cpu'


def task_dir(args, name):
    """The task's own work dir: one per schedule, so that runs of different
    lengths never resume from each other."""
    folder = name if args.max_iters is None else f'{name}_{args.max_iters}it'
    return osp.join(args.work_dir, folder)


def run_task(name, args, device, logger):
    """Build, train, evaluate and paint ``name``; its result as a dict."""
    from mmengine.config import Config

    from mmmobilemamba.apis import (set_checkpoint_interval, set_data_root,
                                    set_max_iters, train_and_test,
                                    visualise_predictions)
    task = TASKS[name]
    start = time.perf_counter()
    cfg = Config.fromfile(osp.join(REPO, task.config))
    data_root = osp.join(args.data_dir, osp.basename(cfg.data_root))
    logger.info(f'[{name}] dataset {data_root} '
                '(built unless already complete)')
    dataset = importlib.import_module(f'mmmobilemamba.datasets.{task.dataset}')
    getattr(dataset, f'make_{task.dataset}')(data_root)
    set_data_root(cfg, data_root)
    if args.max_iters is not None:
        set_max_iters(cfg, args.max_iters)
    set_checkpoint_interval(cfg)
    cfg.work_dir = task_dir(args, name)
    logger.info(f'[{name}] training {task.config} in {cfg.work_dir}')
    trained = train_and_test(cfg)
    images = sorted(glob.glob(osp.join(data_root, task.images)))[:NUM_IMAGES]
    logger.info(f'[{name}] painting the predictions on {len(images)} images')
    paintings = visualise_predictions(cfg, trained.checkpoint, images,
                                      cfg.work_dir, device)
    missing = [path for path in paintings if not osp.isfile(path)]
    if missing:
        raise RuntimeError(f'the inferencer wrote no {missing}')
    return dict(
        task=name,
        config=task.config,
        device=device,
        iterations=trained.iterations,
        resumed_from=trained.resumed_from,
        seconds=round(time.perf_counter() - start, 1),
        metrics=trained.metrics,
        checkpoint=osp.relpath(trained.checkpoint, cfg.work_dir),
        paintings=[osp.relpath(path, cfg.work_dir) for path in paintings])


def format_metrics(metrics, keys):
    """``keys`` of ``metrics``, e.g. ``bbox_mAP 0.412, bbox_mAP_50 0.733``."""
    if not metrics:
        # mmdet's CocoMetric has nothing to score when no box passes the
        # test score threshold, as with a barely trained RetinaNet.
        return 'none: no predictions above the score threshold'

    def value(v):
        return f'{v:.3f}' if abs(v) < 1 else f'{v:.2f}'

    return ', '.join(f'{key.split("/")[-1]} {value(metrics[key])}'
                     for key in keys)


def summary_markdown(results, args, device, seconds):
    lines = [
        '# Quick-start summary', '',
        f'Device: {device}. Wall time: {seconds:.0f} s. '
        f'Checkpoints and logs: `{args.work_dir}/<task>/`.', '',
        '| task | config | iterations | time | metrics | outputs |',
        '|------|--------|-----------:|-----:|---------|---------|'
    ]
    for name, (result, status) in results.items():
        iterations = str(result['iterations'])
        if status == 'reused':
            iterations += ' (reused)'
        elif result['resumed_from']:
            iterations += f' (resumed at {result["resumed_from"]})'
        cells = [
            name, f'`{result["config"]}`', iterations,
            f'{result["seconds"]:.0f} s',
            format_metrics(result['metrics'], TASKS[name].metrics),
            f'`{osp.join(task_dir(args, name), "vis")}/` '
            f'({len(result["paintings"])} PNGs)'
        ]
        lines.append(f'| {" | ".join(cells)} |')
    return '\n'.join(lines) + '\n'


def main():
    args = parse_args()
    start = time.perf_counter()
    # Before torch and the toolboxes load: hiding CUDA must come first.
    device = select_device(args.device)
    from mmengine.logging import MMLogger
    os.makedirs(args.work_dir, exist_ok=True)
    logger = MMLogger.get_instance(
        'quickstart', log_file=osp.join(args.work_dir, 'quickstart.log'))
    logger.info(f'tasks {" ".join(args.tasks)} on {device}, work dir '
                f'{args.work_dir}')
    results = {}
    for name in dict.fromkeys(args.tasks):
        result_file = osp.join(task_dir(args, name), RESULT_FILE)
        if osp.isfile(result_file):
            with open(result_file) as f:
                results[name] = (json.load(f), 'reused')
            logger.info(f'[{name}] done before: reusing {result_file}')
            continue
        result = run_task(name, args, device, logger)
        with open(result_file + '.tmp', 'w') as f:
            json.dump(result, f, indent=2)
        os.replace(result_file + '.tmp', result_file)
        results[name] = (result, 'new')
        logger.info(f'[{name}] done in {result["seconds"]:.0f} s')
    summary = summary_markdown(results, args, device,
                               time.perf_counter() - start)
    summary_file = osp.join(args.work_dir, SUMMARY_FILE)
    with open(summary_file, 'w') as f:
        f.write(summary)
    logger.info(f'summary written to {summary_file}:\n\n{summary}')


if __name__ == '__main__':
    main()

"""Train, evaluate and try out MobileMamba on every task, with no download.

As with real data, the backbone is pretrained first: the classifier trains
on the built-in classification dataset, then the detection, instance and
segmentation tasks start from its checkpoint (``init_cfg=dict(type=
'Pretrained', prefix='backbone.')``). For each task this builds (or reuses)
its built-in dataset, trains the task's toy config with the mmengine Runner
(validating a few times on the way), evaluates the model on the validation
set (COCO box mAP, mmseg's IoU metric, top-1), paints the predictions of the
toolbox's inference API on a few images, draws a contact sheet (ground truth
beside prediction) and the loss and metric curves, then prints a summary
table and writes it to ``WORK_DIR/summary.md``::

    python tools/quickstart.py [--tasks det seg cls] [--max-iters N]

On a GPU every schedule is ``GPU_SCHEDULE`` times longer. A second run
resumes an interrupted task from its latest checkpoint and reuses the
results of the finished ones.
"""
import argparse
import glob
import importlib
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RESULT_FILE = 'result.json'
SUMMARY_FILE = 'summary.md'
NUM_IMAGES = 3
#: How many times longer each task trains on a GPU.
GPU_SCHEDULE = 4
#: Validations during training by default (the curves' points).
VALIDATIONS = 4


@dataclass(frozen=True)
class Task:
    """One quick-start task."""
    #: The toy config, relative to the repository.
    config: str
    #: Its dataset's module in ``mmmobilemamba.datasets``.
    dataset: str
    #: The images to paint: a glob under the dataset root.
    images: str
    #: The metrics that the summary shows; the first is plotted.
    metrics: Tuple[str, ...]
    #: The task whose classifier initialises this task's backbone.
    backbone_from: Optional[str] = None


TASKS = {
    'det':
    Task('configs/retinanet/toy/retinanet_mobilemamba-t2_fpn_toy-det.py',
         'toy_detection', 'val/*.jpg', ('coco/bbox_mAP_50', 'coco/bbox_mAP'),
         'cls'),
    'seg':
    Task('configs/sem_fpn/toy/fpn_mobilemamba-t2_1xb8_toy-seg.py',
         'toy_segmentation', 'images/validation/*.jpg', ('mIoU', 'aAcc'),
         'cls'),
    'cls':
    Task('configs/mobilemamba/toy/mobilemamba-t2_1xb32_toy-cls.py',
         'toy_classification', 'val/*/*_0000.png', ('accuracy/top1', )),
    'ins':
    Task('configs/mask_rcnn/toy/mask-rcnn_mobilemamba-t2_fpn_toy-det.py',
         'toy_detection', 'val/*.jpg', ('coco/segm_mAP_50', 'coco/bbox_mAP_50',
                                        'coco/segm_mAP', 'coco/bbox_mAP'),
         'cls'),
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
    parser.add_argument(
        '--validations',
        type=int,
        default=VALIDATIONS,
        help='validate each task this many times during training, for its '
        'curves (default: %(default)s)')
    args = parser.parse_args()
    if args.validations < 1:
        parser.error(f'--validations must be positive, got {args.validations}')
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


def schedule_factor(args, device):
    """How many times its config's schedule each task trains."""
    return GPU_SCHEDULE if device == 'cuda' and args.max_iters is None else 1


def task_dir(args, name, factor=1):
    """The task's own work dir: one per schedule, so that runs of different
    lengths never resume from each other."""
    folder = name if args.max_iters is None else f'{name}_{args.max_iters}it'
    if factor > 1:
        folder += f'_x{factor}'
    return osp.join(args.work_dir, folder)


def run_order(tasks):
    """``tasks`` with each one's pretraining task before it."""
    order = []
    for name in tasks:
        before = TASKS[name].backbone_from
        order += [before, name] if before else [name]
    return list(dict.fromkeys(order))


def run_task(name, args, device, logger, pretrained=None):
    """Build, train, evaluate and paint ``name``, its backbone initialised
    from the classifier checkpoint ``pretrained`` if given; its result as a
    dict."""
    from mmengine.config import Config

    from mmmobilemamba.apis import (paint_contact_sheet, plot_training_curves,
                                    scale_schedule, set_checkpoint_interval,
                                    set_data_root, set_max_iters,
                                    set_validation_points, train_and_test,
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
    factor = schedule_factor(args, device)
    scale_schedule(cfg, factor)
    set_validation_points(cfg, args.validations)
    set_checkpoint_interval(cfg)
    if pretrained:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        logger.info(f'[{name}] backbone initialised from {pretrained}')
    cfg.work_dir = task_dir(args, name, factor)
    logger.info(f'[{name}] training {task.config} in {cfg.work_dir}')
    trained = train_and_test(cfg, validate=True)
    images = sorted(glob.glob(osp.join(data_root, task.images)))[:NUM_IMAGES]
    logger.info(f'[{name}] painting the predictions on {len(images)} images')
    paintings = visualise_predictions(cfg, trained.checkpoint, images,
                                      cfg.work_dir, device)
    missing = [path for path in paintings if not osp.isfile(path)]
    if missing:
        raise RuntimeError(f'the inferencer wrote no {missing}')
    sheet = paint_contact_sheet(
        cfg,
        trained.checkpoint,
        osp.join(cfg.work_dir, 'contact_sheet.png'),
        num_images=12 if name == 'cls' else 6,
        device=device)
    metric = task.metrics[0]
    curves = plot_training_curves(
        cfg.work_dir,
        metric,
        osp.join(cfg.work_dir, 'training_curves.png'),
        title=f'{name}: {osp.basename(task.config)}',
        final=(trained.iterations,
               trained.metrics[metric]) if metric in trained.metrics else None)
    return dict(
        task=name,
        config=task.config,
        device=device,
        work_dir=cfg.work_dir,
        pretrained=pretrained and osp.relpath(pretrained, args.work_dir),
        iterations=trained.iterations,
        resumed_from=trained.resumed_from,
        seconds=round(time.perf_counter() - start, 1),
        metrics=trained.metrics,
        checkpoint=osp.relpath(trained.checkpoint, cfg.work_dir),
        paintings=[osp.relpath(path, cfg.work_dir) for path in paintings],
        contact_sheet=sheet and osp.relpath(sheet, cfg.work_dir),
        curves=osp.relpath(curves, cfg.work_dir))


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
    """The summary table, then each task's contact sheet and curves (paths
    relative to the work dir, where the summary is written)."""
    lines = [
        '# Quick-start summary', '',
        f'Device: {device}. Wall time: {seconds:.0f} s. '
        f'Checkpoints and logs: `{args.work_dir}/<task>/`.', '',
        '| task | config | backbone from | iterations | time | metrics '
        '| outputs |',
        '|------|--------|---------------|-----------:|-----:|---------'
        '|---------|'
    ]
    pictures = []
    for name, (result, status) in results.items():
        iterations = str(result['iterations'])
        if status == 'reused':
            iterations += ' (reused)'
        elif result['resumed_from']:
            iterations += f' (resumed at {result["resumed_from"]})'
        folder = osp.relpath(result['work_dir'], args.work_dir)
        cells = [
            name, f'`{result["config"]}`',
            f'`{result["pretrained"]}`' if result['pretrained'] else 'scratch',
            iterations, f'{result["seconds"]:.0f} s',
            format_metrics(result['metrics'], TASKS[name].metrics),
            f'`{folder}/vis/` ({len(result["paintings"])} PNGs)'
        ]
        lines.append(f'| {" | ".join(cells)} |')
        pictures += [
            f'## {name}', '', 'Ground truth (left) beside prediction (right):',
            '', f'![{name} contact sheet]({folder}/{result["contact_sheet"]})',
            '', f'![{name} training curves]({folder}/{result["curves"]})', ''
        ]
    return '\n'.join(lines + [''] + pictures)


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
    factor = schedule_factor(args, device)
    if factor > 1:
        logger.info(f'on {device}: every schedule {factor} times longer')
    results = {}
    for name in run_order(args.tasks):
        result_file = osp.join(task_dir(args, name, factor), RESULT_FILE)
        if osp.isfile(result_file):
            with open(result_file) as f:
                results[name] = (json.load(f), 'reused')
            logger.info(f'[{name}] done before: reusing {result_file}')
            continue
        before = TASKS[name].backbone_from
        pretrained = before and osp.join(
            task_dir(args, before, factor), results[before][0]['checkpoint'])
        result = run_task(name, args, device, logger, pretrained)
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

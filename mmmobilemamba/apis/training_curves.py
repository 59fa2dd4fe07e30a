"""Plot a training run's loss and validation metric from its logged
scalars (``<work_dir>/<timestamp>/vis_data/scalars.json``)."""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

Series = List[Tuple[int, float]]


def read_scalars(work_dir: str, metric: str) -> Dict[str, Series]:
    """``{'loss': [(iter, loss), ...], metric: [(iter, value), ...]}`` from
    every run logged in ``work_dir`` (a resumed run continues the curve)."""
    loss: Dict[int, float] = {}
    values: Dict[int, float] = {}
    paths = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    for path in sorted(paths):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    loss[record.get('iter', record['step'])] = record['loss']
                elif metric in record:
                    values[record['step']] = record[metric]
    return dict(loss=sorted(loss.items()), **{metric: sorted(values.items())})


def plot_training_curves(work_dir: str,
                         metric: str,
                         out_file: str,
                         title: str = '',
                         final: Optional[Tuple[int, float]] = None) -> str:
    """Loss (left axis) and ``metric`` (right axis) against the iteration,
    saved as ``out_file``; ``final`` adds the test result (iter, value)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    scalars = read_scalars(work_dir, metric)
    points = scalars[metric] + ([final] if final else [])
    fig, loss_axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    if scalars['loss']:
        steps, losses = zip(*scalars['loss'])
        loss_axis.plot(steps, losses, color='tab:blue', label='loss')
    loss_axis.set_xlabel('iteration')
    loss_axis.set_ylabel('training loss', color='tab:blue')
    metric_axis = loss_axis.twinx()
    if points:
        steps, values = zip(*sorted(set(points)))
        metric_axis.plot(steps, values, 'o-', color='tab:orange', label=metric)
    metric_axis.set_ylabel(metric, color='tab:orange')
    metric_axis.set_ylim(bottom=0)
    loss_axis.set_title(title)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
    return out_file

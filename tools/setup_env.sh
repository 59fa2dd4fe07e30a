#!/usr/bin/env bash
# Create or refresh the project's virtual environment. Idempotent: when the
# environment already matches requirements/ it only checks it and exits.
#
#   bash tools/setup_env.sh            # creates ./.venv
#   MMM_VENV=/path/to/venv bash tools/setup_env.sh
#
# mmcv 2.1.0 has no PyPI wheel for torch 2.14 and must be compiled (about
# 12 min on 2 cores). A wheel is reused, in this order, from:
#   1. $MMCV_WHEEL (an explicit file),
#   2. ../shared/wheels/torch-<ver>/ beside the checkout, if its sha256 is one
#      listed in requirements/mmcv_wheels.sha256,
#   3. this project's own cache, ${XDG_CACHE_HOME:-~/.cache}/mmmobilemamba,
# and otherwise built from the PyPI sdist and stored in that cache.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMM_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mmmobilemamba
CONSTRAINTS=$ROOT/requirements/constraints.txt

log() { printf '[setup_env] %s\n' "$*" >&2; }
pin() { sed -n "s/^$1==//p" "$CONSTRAINTS"; }

TORCH=$(pin torch)
MMCV=$(pin mmcv)
PYTAG=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
MMCV_WHL=mmcv-$MMCV-$PYTAG-$PYTAG-linux_$(uname -m).whl

stamp_of() {
    cat "$CONSTRAINTS" "$ROOT"/requirements/*.txt "$ROOT/setup.py" \
        "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}
STAMP_FILE=$VENV/.mmmobilemamba-setup
STAMP=$(stamp_of)

check_env() {
    "$VENV/bin/python" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain, mmseg, pycocotools, torch
import mmmobilemamba
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)  # compiled ops really load
PY
}

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ] \
        && check_env 2>/dev/null; then
    log "environment $VENV is up to date"
    exit 0
fi

START=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
export PIP_NO_CACHE_DIR=1

log "installing torch $TORCH and the build prerequisites"
"${PIP[@]}" install -c "$CONSTRAINTS" torch torchvision setuptools wheel \
    ninja numpy opencv-python mmengine

mmcv_ok() {
    "$VENV/bin/python" -c 'import mmcv.ops; from mmcv.ops import RoIAlign, nms' \
        2>/dev/null
}

install_wheel() {  # $1: wheel file; returns non-zero if its ops do not load
    log "installing mmcv from $1"
    "${PIP[@]}" install --no-deps --force-reinstall "$1" && mmcv_ok
}

shared_wheel_ok() {  # $1: wheel file from ../shared, checked against the list
    local sum
    sum=$(sha256sum "$1" | cut -d' ' -f1)
    grep -q "^$sum  torch-$TORCH/$MMCV_WHL\$" "$ROOT/requirements/mmcv_wheels.sha256"
}

build_mmcv() {
    local work
    work=$(mktemp -d)
    log "building mmcv $MMCV with CPU ops from source (about 12 min on 2 cores)"
    "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
        "mmcv==$MMCV" -d "$work"
    tar xzf "$work/mmcv-$MMCV.tar.gz" -C "$work"
    # torch >= 2.14 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV/setup.py"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "${PIP[@]}" wheel \
        --no-build-isolation --no-deps -w "$work/dist" "$work/mmcv-$MMCV"
    # Drop debug info: 32 MB -> 1.4 MB, same code.
    "$VENV/bin/python" -m wheel unpack -d "$work/unpacked" "$work/dist/$MMCV_WHL"
    find "$work/unpacked" -name '*.so' -exec strip --strip-debug {} +
    mkdir -p "$CACHE/torch-$TORCH"
    "$VENV/bin/python" -m wheel pack -d "$CACHE/torch-$TORCH" \
        "$work/unpacked/mmcv-$MMCV"
    rm -rf "$work"
}

if mmcv_ok && [ "$("$VENV/bin/python" -c 'import mmcv; print(mmcv.__version__)')" = "$MMCV" ]; then
    log "mmcv $MMCV with ops already installed"
else
    done_mmcv=0
    if [ -n "${MMCV_WHEEL:-}" ]; then
        install_wheel "$MMCV_WHEEL" && done_mmcv=1
    fi
    shared=$ROOT/../shared/wheels/torch-$TORCH/$MMCV_WHL
    if [ $done_mmcv = 0 ] && [ -f "$shared" ]; then
        if shared_wheel_ok "$shared"; then
            install_wheel "$shared" && done_mmcv=1
        else
            log "ignoring $shared: its sha256 is not in requirements/mmcv_wheels.sha256"
        fi
    fi
    cached=$CACHE/torch-$TORCH/$MMCV_WHL
    if [ $done_mmcv = 0 ] && [ -f "$cached" ]; then
        install_wheel "$cached" && done_mmcv=1
    fi
    if [ $done_mmcv = 0 ]; then
        build_mmcv
        install_wheel "$cached" || { log "mmcv built but mmcv.ops does not load"; exit 1; }
    fi
fi

log "installing mmpretrain, mmdet, mmsegmentation and the test requirements"
"${PIP[@]}" install -c "$CONSTRAINTS" -r "$ROOT/requirements/optional.txt" \
    -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/mminstall.txt"
"${PIP[@]}" install --no-build-isolation --no-deps -e "$ROOT"

check_env
echo "$STAMP" > "$STAMP_FILE"
log "environment ready in $((SECONDS - START)) s: $VENV"

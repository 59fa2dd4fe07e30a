#!/usr/bin/env bash
# Create or refresh the project's Python environment. Idempotent: when the
# environment already matches requirements/ it only checks it and exits.
#
#   bash tools/setup_env.sh                      # creates ./.venv
#   MMM_VENV=/path/to/venv bash tools/setup_env.sh
#
# Settings (environment variables):
#   MMM_VENV=DIR        the environment; an existing one (a venv or any
#                       Python prefix with bin/python) is installed into.
#   MMM_USE_INSTALLED=1 keep the torch (and any other package) that DIR
#                       already has where it meets requirements/: no
#                       versions are pinned, nothing installed is replaced.
#   MMM_WHEELS=DIR      offline: pip takes everything from DIR (wheels, and
#                       mmcv's sdist if it must be built), never the network.
#   MMM_MMCV_OPS=cpu|cuda  which mmcv ops to build (default: cuda when torch
#                       is a CUDA build and a GPU is visible or
#                       TORCH_CUDA_ARCH_LIST is set; cpu otherwise).
#   TORCH_CUDA_ARCH_LIST, MAX_JOBS  for the CUDA build (default: the visible
#                       cards' architectures, all cores).
#   MMCV_WHEEL=FILE     an mmcv wheel to install instead of building one.
#
# mmcv 2.1.0 has no PyPI wheel for recent torch and is compiled: CPU ops
# about 12 min on 2 cores; CUDA ops about 5 min on 16 cores (needs nvcc of
# the CUDA version torch was built with). A wheel is reused, in this order,
# from $MMCV_WHEEL, ../shared/wheels/<key>/ beside the checkout (if its
# sha256 is listed in requirements/mmcv_wheels.sha256), and this project's
# cache ${XDG_CACHE_HOME:-~/.cache}/mmmobilemamba/<key>/, where <key> is
# torch-<version> for CPU ops and torch-<version>-cu<cuda>-sm<archs> for CUDA
# ops. Otherwise it is built from the sdist and stored in that cache.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMM_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mmmobilemamba
CONSTRAINTS=$ROOT/requirements/constraints.txt
USE_INSTALLED=${MMM_USE_INSTALLED:-0}

log() { printf '[setup_env] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
pin() { sed -n "s/^$1==//p" "$CONSTRAINTS"; }

MMCV=$(pin mmcv)
TRANSFORMERS=$(pin transformers)
PIP_ARGS=(--disable-pip-version-check)
if [ -n "${MMM_WHEELS:-}" ]; then
    [ -d "$MMM_WHEELS" ] || die "MMM_WHEELS=$MMM_WHEELS is not a folder"
    PIP_NO_INDEX=1 PIP_FIND_LINKS=$(cd "$MMM_WHEELS" && pwd)
    export PIP_NO_INDEX PIP_FIND_LINKS
fi
# Pins apply unless the environment's own packages are to be kept.
PINS=(-c "$CONSTRAINTS")
[ "$USE_INSTALLED" = 1 ] && PINS=()

stamp_of() {
    { cat "$CONSTRAINTS" "$ROOT"/requirements/*.txt "$ROOT/setup.py" \
        "${BASH_SOURCE[0]}"; echo "$USE_INSTALLED ${MMM_MMCV_OPS:-auto}"; } \
        | sha256sum | cut -d' ' -f1
}
STAMP_FILE=$VENV/.mmmobilemamba-setup
STAMP=$(stamp_of)
# Optional: a recent transformers kept apart from the environment, so a
# test can check the package beside it without every process importing it.
EXTRAS=$VENV/extras/transformers-$TRANSFORMERS

# The ops check: NMS and RoIAlign run, and on the GPU when mmcv has CUDA ops
# (there RoIAlign must match the CPU op).
check_ops() {
    "$VENV/bin/python" - "$ROOT/mmmobilemamba/ops/c_kernels/elf.py" <<'PY'
import importlib.util
import sys
import torch
from mmcv.ops import RoIAlign, nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)  # compiled ops really load
spec = importlib.util.spec_from_file_location('elf', sys.argv[1])
elf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(elf)
ext = importlib.util.find_spec('mmcv._ext').origin
if 'libc10_cuda.so' in elf.read_dynamic_section(ext).needed \
        and torch.cuda.is_available():
    feats = torch.rand(2, 4, 16, 16)
    rois = torch.tensor([[0, 1., 1., 9., 9.], [1, 2., 3., 15., 12.]])
    align = RoIAlign((4, 4), 1.0, 2)
    gpu = align(feats.cuda(), rois.cuda()).cpu()
    assert torch.allclose(gpu, align(feats, rois), atol=1e-4), 'RoIAlign'
    nms(boxes.cuda(), torch.tensor([0.9, 0.8]).cuda(), 0.5)
    print(f'mmcv ops checked on {torch.cuda.get_device_name()}')
PY
}

check_env() {
    "$VENV/bin/python" -c 'import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain
import mmseg, pycocotools, torch, mmmobilemamba, mmdet.models, mmseg.models' \
        && check_ops
}

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ] \
        && check_env >/dev/null 2>&1; then
    log "environment $VENV is up to date"
    exit 0
fi

START=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip "${PIP_ARGS[@]}")
export PIP_NO_CACHE_DIR=1

if [ "$USE_INSTALLED" = 1 ] \
        && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    log "keeping the installed torch $("$VENV/bin/python" -c \
        'import torch; print(torch.__version__)')"
    # mmengine asks for opencv-python; an environment with the headless
    # build (the same cv2) keeps it.
    "${PIP[@]}" install setuptools wheel ninja numpy addict matplotlib pyyaml \
        rich termcolor yapf
    "$VENV/bin/python" -c 'import cv2' 2>/dev/null \
        || "${PIP[@]}" install opencv-python-headless
    "${PIP[@]}" install --no-deps "mmengine$(sed -n 's/^mmengine//p' \
        "$ROOT/requirements/mminstall.txt")"
else
    log "installing torch $(pin torch) and the build prerequisites"
    "${PIP[@]}" install "${PINS[@]}" torch torchvision setuptools wheel \
        ninja numpy opencv-python mmengine
fi

# What torch is, and so which mmcv to build: "<version> <cuda> <archs>",
# with cuda "none" for a CPU build and archs "none" without a GPU.
read -r TORCH TORCH_CUDA GPU_ARCHS < <("$VENV/bin/python" - <<'PY'
import torch
archs = sorted({'%d.%d' % torch.cuda.get_device_capability(i)
                for i in range(torch.cuda.device_count())})
print(torch.__version__.split('+')[0], torch.version.cuda or 'none',
      ';'.join(archs) or 'none')
PY
)
OPS=${MMM_MMCV_OPS:-}
if [ -z "$OPS" ]; then
    OPS=cpu
    if [ "$TORCH_CUDA" != none ] && { [ "$GPU_ARCHS" != none ] \
            || [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; }; then
        OPS=cuda
    fi
fi
case $OPS in
cpu)
    KEY=torch-$TORCH ;;
cuda)
    [ "$TORCH_CUDA" != none ] || die "MMM_MMCV_OPS=cuda, but torch $TORCH" \
        "is a CPU build: install a CUDA build of torch"
    ARCHS=${TORCH_CUDA_ARCH_LIST:-$GPU_ARCHS}
    [ "$ARCHS" != none ] || die "no GPU is visible to name the CUDA" \
        "architectures: set TORCH_CUDA_ARCH_LIST (e.g. '8.0;9.0')"
    export TORCH_CUDA_ARCH_LIST=$ARCHS
    SM=$(echo "$ARCHS" | tr -d '.+' | tr ' ;' '--' | sed 's/^/sm/; s/-/-sm/g')
    KEY=torch-$TORCH-cu${TORCH_CUDA//./}-$SM ;;
*)
    die "MMM_MMCV_OPS=$OPS: use cpu or cuda" ;;
esac
PYTAG=$("$VENV/bin/python" -c \
    'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
MMCV_WHL=mmcv-$MMCV-$PYTAG-$PYTAG-linux_$(uname -m).whl

find_nvcc() {
    if [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
        echo "$CUDA_HOME/bin/nvcc"
    elif command -v nvcc >/dev/null; then
        command -v nvcc
    elif [ -x /usr/local/cuda/bin/nvcc ]; then
        echo /usr/local/cuda/bin/nvcc
    else
        return 1
    fi
}

# mmcv with the ops asked for, told by the libraries its compiled ops link
# (mmcv.ops.get_compiling_cuda_version() would crash a broken build): CUDA
# ops need libc10_cuda. Exit status 2: the ops link the C++ runtime
# statically, and its iostreams crash beside the one torch loaded.
mmcv_ok() {
    "$VENV/bin/python" - "$OPS" "$MMCV" \
        "$ROOT/mmmobilemamba/ops/c_kernels/elf.py" 2>/dev/null <<'PY'
import importlib.util
import sys
import mmcv
import mmcv.ops  # noqa: F401  (the compiled ops load)
ops, version, elf_file = sys.argv[1:]
spec = importlib.util.spec_from_file_location('elf', elf_file)
elf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(elf)
ext = importlib.util.find_spec('mmcv._ext').origin
needed = elf.read_dynamic_section(ext).needed
if mmcv.__version__ != version:
    sys.exit(1)
if 'libstdc++.so.6' not in needed:
    sys.exit(2)
sys.exit(('libc10_cuda.so' in needed) != (ops == 'cuda'))
PY
}

install_wheel() {  # $1: wheel file; returns non-zero if its ops do not load
    log "installing mmcv from $1"
    "${PIP[@]}" install --no-deps --force-reinstall "$1" || return 1
    local rc=0
    mmcv_ok || rc=$?
    [ $rc = 2 ] && log "$1: its compiled ops link the C++ runtime" \
        "statically (no libstdc++.so.6 needed), and its iostreams crash" \
        "beside torch's (mmcv.ops.get_compiling_cuda_version segfaults):" \
        "not used; rebuild it"
    return $rc
}

shared_wheel_ok() {  # $1: wheel file from ../shared, checked against the list
    local sum
    sum=$(sha256sum "$1" | cut -d' ' -f1)
    grep -q "^$sum  $KEY/$MMCV_WHL\$" "$ROOT/requirements/mmcv_wheels.sha256"
}

build_mmcv() {
    local work jobs
    work=$(mktemp -d)
    jobs=${MAX_JOBS:-$(nproc)}
    if [ "$OPS" = cuda ]; then
        local nvcc nvcc_cuda
        nvcc=$(find_nvcc) || die "torch $TORCH is built with CUDA" \
            "$TORCH_CUDA and a GPU is here, but nvcc is not: install the CUDA" \
            "toolkit $TORCH_CUDA (the version torch was built with) and put" \
            "nvcc on PATH or set CUDA_HOME; or set MMM_MMCV_OPS=cpu for" \
            "CPU-only ops (mmdet's NMS and RoIAlign then fail on GPU tensors)"
        nvcc_cuda=$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
        [ "${nvcc_cuda%%.*}" = "${TORCH_CUDA%%.*}" ] || die "$nvcc is CUDA" \
            "$nvcc_cuda but torch is built with CUDA $TORCH_CUDA: install the" \
            "matching toolkit or set CUDA_HOME to it"
        export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$nvcc")")")}
        log "building mmcv $MMCV with CUDA ops for $TORCH_CUDA_ARCH_LIST" \
            "(CUDA $nvcc_cuda, $jobs jobs; about 5 min on 16 cores)"
        export FORCE_CUDA=1
    else
        log "building mmcv $MMCV with CPU ops ($jobs jobs; about 12 min on" \
            "2 cores)"
        export FORCE_CUDA=0
    fi
    "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation \
        "mmcv==$MMCV" -d "$work"
    tar xzf "$work/mmcv-$MMCV.tar.gz" -C "$work"
    # torch >= 2.14 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
    if "$VENV/bin/python" -c 'import sys, torch
sys.exit(tuple(map(int, torch.__version__.split(".")[:2])) < (2, 14))'; then
        sed -i 's/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV/setup.py"
    fi
    MMCV_WITH_OPS=1 MAX_JOBS=$jobs "${PIP[@]}" wheel \
        --no-build-isolation --no-deps -w "$work/dist" "$work/mmcv-$MMCV"
    # Drop debug info (CPU ops: 32 MB -> 1.4 MB), same code.
    "$VENV/bin/python" -m wheel unpack -d "$work/unpacked" "$work/dist/$MMCV_WHL"
    find "$work/unpacked" -name '*.so' -exec strip --strip-debug {} +
    mkdir -p "$CACHE/$KEY"
    "$VENV/bin/python" -m wheel pack -d "$CACHE/$KEY" \
        "$work/unpacked/mmcv-$MMCV"
    rm -rf "$work"
}

log "torch $TORCH (CUDA: $TORCH_CUDA, GPUs: $GPU_ARCHS): mmcv $MMCV with" \
    "$OPS ops ($KEY)"
if mmcv_ok; then
    log "mmcv $MMCV with $OPS ops already installed"
else
    done_mmcv=0
    if [ -n "${MMCV_WHEEL:-}" ]; then
        install_wheel "$MMCV_WHEEL" && done_mmcv=1
    fi
    shared=$ROOT/../shared/wheels/$KEY/$MMCV_WHL
    if [ $done_mmcv = 0 ] && [ -f "$shared" ]; then
        if shared_wheel_ok "$shared"; then
            install_wheel "$shared" && done_mmcv=1
        else
            log "ignoring $shared: its sha256 is not in requirements/mmcv_wheels.sha256"
        fi
    fi
    cached=$CACHE/$KEY/$MMCV_WHL
    if [ $done_mmcv = 0 ] && [ -f "$cached" ]; then
        install_wheel "$cached" && done_mmcv=1
    fi
    if [ $done_mmcv = 0 ]; then
        build_mmcv
        install_wheel "$cached" || die "mmcv built but mmcv.ops does not load"
    fi
fi

log "installing mmpretrain, mmdet, mmsegmentation and the test requirements"
"${PIP[@]}" install "${PINS[@]}" -r "$ROOT/requirements/optional.txt" \
    -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/mminstall.txt"
"${PIP[@]}" install --no-build-isolation --no-deps -e "$ROOT"

if [ ! -d "$EXTRAS" ]; then
    log "installing transformers $TRANSFORMERS into $EXTRAS (for the test" \
        "of the package beside it)"
    if "${PIP[@]}" install -q --no-deps --target "$EXTRAS.part" \
            "transformers==$TRANSFORMERS" "tokenizers==$(pin tokenizers)"; then
        mv "$EXTRAS.part" "$EXTRAS"
    else
        rm -rf "$EXTRAS.part"
        [ -n "${MMM_WHEELS:-}" ] || die "could not install transformers"
        log "no transformers $TRANSFORMERS in $MMM_WHEELS: its test will skip"
    fi
fi

check_env
echo "$STAMP" > "$STAMP_FILE"
log "environment ready in $((SECONDS - START)) s: $VENV"

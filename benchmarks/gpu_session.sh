#!/usr/bin/env bash
# Issue 14 in one run on a lent GPU machine, so its few minutes go to work:
#   device tool: run(command="bash benchmarks/gpu_session.sh", timeout_s=540)
# The device tool brings back at most 8 files from $OUT (./gpu-out
# elsewhere), so every stage's log streams into one file, session.txt
# (device and versions, install, gpu tests, bench, profile-*, tiling-* for
# issue 11: 4K untiled and 4K/8K under a 4 GB device budget, atlas-cuda for
# issue 15), beside gpu-tests.xml, bench-step.json, bench-kernel.json and
# sheet-cuda.png: 5 files. A stage killed by its limit, or the whole run by
# the tool's, leaves what it printed so far. Each stage has its own time
# limit and a failing stage does not stop the next; the exit status is the
# worst of them. On a machine without a GPU every stage runs and the gpu
# tests skip (how it is tested).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
LOG="$OUT/session.txt"
: >"$LOG"
export PYTHONUNBUFFERED=1 # a killed stage still leaves its lines in $LOG
# On the H200 image the interpreter that holds torch and CuPy is python3
# (/opt/torch/.venv/bin/python3); a bare `python` may be another or none.
PY=${PY:-python3}
command -v "$PY" >/dev/null 2>&1 || PY=python
export PY
rc=0
stage() { # stage NAME SECONDS CMD...: run CMD with a limit, log to $LOG
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date -u +%T))" | tee -a "$LOG"
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG" | tail -n 3
  local r=${PIPESTATUS[0]}
  [ "$r" -eq 0 ] || { echo "   $name: exit $r" | tee -a "$LOG"; rc=$r; }
}
stage device 30 bash -c 'nvidia-smi || true; "$PY" -c "
import numpy, torch; print(\"numpy\", numpy.__version__, \"torch\", torch.__version__, torch.cuda.is_available())
try:
    import cupy; print(\"cupy\", cupy.__version__, cupy.cuda.runtime.getDeviceProperties(0)[\"name\"])
except Exception as e: print(\"cupy:\", e)"'
stage install 120 "$PY" -m pip install --no-deps --no-build-isolation -e .
stage backend 30 "$PY" -c "from inceptionism.kernels import backend as b
print('cupy loads:', b._cupy is not None, b._cupy_error or '', 'gpu:', b.gpu_available())"
# a test module that cannot be imported there (an extra the image lacks)
# must not stop the gpu tests in the others from running
stage gpu-tests 240 "$PY" -m pytest -q -m gpu -p no:cacheprovider -rs \
  --continue-on-collection-errors --junitxml="$OUT/gpu-tests.xml" tests
dev=cuda
"$PY" -c "import cupy; cupy.cuda.runtime.getDeviceCount()" 2>/dev/null || dev=cpu
if [ "$dev" = cuda ]; then
  # two runs: pytest-benchmark writes its JSON only at the end of a run
  stage bench-step 150 "$PY" -m pytest -q -p no:cacheprovider \
    benchmarks/test_gpu.py -k test_gpu_step \
    --benchmark-json="$OUT/bench-step.json" --benchmark-columns=min,median
  stage bench-kernel 150 "$PY" -m pytest -q -p no:cacheprovider \
    benchmarks/test_gpu.py -k test_gpu_kernel \
    --benchmark-json="$OUT/bench-kernel.json" --benchmark-columns=min,median
else
  echo "== bench: skipped, no CuPy GPU here" | tee -a "$LOG"
fi
rounds=5
[ "$dev" = cpu ] && rounds=1 # without a GPU this stage is a smoke test
for size in 1024x768 3840x2160; do
  [ "$dev" = cpu ] && [ "$size" != 1024x768 ] && continue
  stage "profile-$size" 120 "$PY" -m benchmarks.op_profile --size "$size" \
    --device "$dev" --rounds "$rounds"
done
if [ "$dev" = cuda ]; then  # issues 11 and 15 on the GPU, if time is left
  export OUT
  stage tiling-4k-untiled 90 "$PY" -m benchmarks.tiling_peak 2160 3840 100GB 4 1 - cuda
  stage tiling-4k-4GB 90 "$PY" -m benchmarks.tiling_peak 2160 3840 4GB 4 1 - cuda
  stage tiling-8k-4GB 150 "$PY" -m benchmarks.tiling_peak 4320 7680 4GB 4 1 - cuda
  # a fresh home: a rerun on the same warm machine must render, not read
  # the first run's channel cache
  stage atlas-cuda 120 bash -c '"$PY" -m inceptionism.engine weights synthetic \
    bvlc_googlenet -o /tmp/synth.h5 --seed 0 --overwrite && INCEPTIONISM_HOME=$(mktemp -d) \
    "$PY" -m inceptionism.engine atlas --channels inception_4c/output --range 0:4 \
    --weights /tmp/synth.h5 --device cuda -o "$OUT/sheet-cuda.png"'
fi
exit "$rc"

#!/usr/bin/env bash
# Issue 14 in one run on a lent GPU machine, so its few minutes go to work:
#   device tool: run(command="bash benchmarks/gpu_session.sh", timeout_s=540)
# Everything lands in $OUT (the device tool's folder; ./gpu-out elsewhere):
# device.txt, install.txt, gpu-tests.txt (+ .xml), bench.txt + bench.json,
# profile-*.txt, then tiling-*.txt (issue 11: 4K untiled and 4K/8K under a
# 4 GB device budget) and atlas-cuda.txt + sheet-cuda.png (issue 15). Each
# stage has its own time limit and a failing stage does not stop the next; the exit status is the worst of them. On a machine
# without a GPU every stage runs and the gpu tests skip (how it is tested).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
rc=0
stage() {  # stage NAME SECONDS CMD...: run CMD with a limit, log to $OUT/NAME.txt
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date -u +%T))"
  timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
  local r=$?
  tail -n 3 "$OUT/$name.txt"
  [ "$r" -eq 0 ] || { echo "   $name: exit $r"; rc=$r; }
}
stage device 30 bash -c 'nvidia-smi || true; python -c "
import numpy, torch; print(\"numpy\", numpy.__version__, \"torch\", torch.__version__, torch.cuda.is_available())
try:
    import cupy; print(\"cupy\", cupy.__version__, cupy.cuda.runtime.getDeviceProperties(0)[\"name\"])
except Exception as e: print(\"cupy:\", e)"'
stage install 120 python -m pip install --no-deps --no-build-isolation -e .
stage gpu-tests 240 python -m pytest -q -m gpu -p no:cacheprovider -rs \
  --junitxml="$OUT/gpu-tests.xml" tests
dev=cuda
python -c "import cupy; cupy.cuda.runtime.getDeviceCount()" 2>/dev/null || dev=cpu
if [ "$dev" = cuda ]; then
  stage bench 240 python -m pytest -q -p no:cacheprovider benchmarks/test_gpu.py \
    --benchmark-json="$OUT/bench.json" --benchmark-columns=min,median
else
  echo "== bench: skipped, no CuPy GPU here"
fi
for size in 1024x768 3840x2160; do
  [ "$dev" = cpu ] && [ "$size" != 1024x768 ] && continue
  stage "profile-$size" 120 python -m benchmarks.op_profile --size "$size" --device "$dev"
done
if [ "$dev" = cuda ]; then  # issues 11 and 15 on the GPU, if time is left
  export OUT
  stage tiling-4k-untiled 90 python -m benchmarks.tiling_peak 2160 3840 100GB 4 1 - cuda
  stage tiling-4k-4GB 90 python -m benchmarks.tiling_peak 2160 3840 4GB 4 1 - cuda
  stage tiling-8k-4GB 150 python -m benchmarks.tiling_peak 4320 7680 4GB 4 1 - cuda
  stage atlas-cuda 120 bash -c 'python -m inceptionism.engine weights synthetic \
    bvlc_googlenet -o /tmp/synth.h5 --seed 0 && INCEPTIONISM_HOME=/tmp/ih \
    python -m inceptionism.engine atlas --channels inception_4c/output --range 0:4 \
    --weights /tmp/synth.h5 --device cuda -o "$OUT/sheet-cuda.png"'
fi
exit "$rc"

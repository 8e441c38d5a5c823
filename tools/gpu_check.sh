#!/usr/bin/env bash
# Every GPU check in one run, within about 8 minutes on one GPU; writes docs/performance-gpu.md.
#
#   tools/gpu_check.sh            # on a machine where the workspace is synced (uv) and CUDA is visible
#   tools/gpu_check.sh --wheels   # on a bare GPU machine without network: installs .gpu/wheels first
#                                 # (made here by `python tools/gpu/prepare.py`; carry ".gpu" to the machine)
#
# Results go to $OUT when it is set (the device tool's output folder), else to gpu-check-out/.
# A GPU check that did not run is never reported as a pass: IQA_REQUIRE_GPU=1 makes the tests fail
# without CUDA, and the script stops at once when torch sees no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-gpu-check-out}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
if [[ "${1:-}" == "--wheels" ]]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/iqa-site .gpu/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/iqa-site${PYTHONPATH:+:$PYTHONPATH}
elif [[ -x .venv/bin/python && -z "${PYTHON:-}" ]]; then
  PY=.venv/bin/python
fi
export IQA_REQUIRE_GPU=1 HF_HUB_OFFLINE=1 IQA_OFFLINE=1 PYTHONUNBUFFERED=1
export IQA_GPU_FIGURES="$OUT_DIR/gpu-figures.jsonl"
rm -f "$IQA_GPU_FIGURES"

DEVICE=$("$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0), '| torch', torch.__version__, '| CUDA', torch.version.cuda)") \
  || { echo "torch sees no CUDA device: nothing was checked" | tee "$OUT_DIR/gpu-check.log"; exit 1; }
echo "device: $DEVICE" | tee "$OUT_DIR/gpu-check.log"

status=0
# 1. the GPU tests (about 4 minutes): nine metrics, DiffPure, pyiqa, RS/MS, training, Scorer, OOM
timeout 330 "$PY" -m pytest tests-integration/test_gpu.py -m gpu -q -p no:cacheprovider \
  --junitxml "$OUT_DIR/gpu-junit.xml" 2>&1 | tee -a "$OUT_DIR/gpu-check.log" || status=1

# 2. the throughput profile of the paper grid on this device (about 2 minutes), for `iqa-bench estimate --profile`
timeout 150 "$PY" -m iqa_bench.cli estimate configs/paper.yaml --measure --profile-out "$OUT_DIR/profile-gpu.json" \
  2>&1 | tee -a "$OUT_DIR/gpu-check.log" || echo "throughput profile did not finish" | tee -a "$OUT_DIR/gpu-check.log"

# 3. the report
"$PY" tools/gpu/report.py --junit "$OUT_DIR/gpu-junit.xml" --figures "$IQA_GPU_FIGURES" \
  --profile "$OUT_DIR/profile-gpu.json" --device "$DEVICE" --out "$OUT_DIR/performance-gpu.md"
if [[ -z "${OUT:-}" ]]; then cp "$OUT_DIR/performance-gpu.md" docs/performance-gpu.md; fi
exit $status

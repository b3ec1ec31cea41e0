#!/usr/bin/env bash
# Every GPU figure of issue 18 in one go (under 7.5 minutes on an H200: the parts' limits add up to 425 s), each part under its own
# timeout, each part's output in its own log:
#
#   bash bench/gpu.sh [LOGDIR]        on the GPU machine, from the project root, with .gpu/ carried
#                                     (onnxruntime-gpu and lark: see bench/gpu/gpu_env.sh); logs go to
#                                     LOGDIR, else $OUT, else runs/gpu
#   bash bench/gpu.sh --cpu-smoke [LOGDIR]   every part on the CPU, tiny (about a minute): proves the script
#
# Parts: env (versions, providers), placement (nodes on the CPU per opset), onnx (onnxruntime-CUDA on
# netdsl's graph vs the dynamo exporter's, AlexNet/ResNet-18/CORAL-CNN, batch 1/32/256, opsets 18, 21,
# 22 and the newest, both LRN lowerings; images/s beside torch eager and torch bf16), train (CORAL-CNN
# at batch 256: fp32 vs channels_last + bf16), stream (streamed JPEGs feeding the step), check
# (bench/gpu/gpu_check.py --quick: every network on CUDA vs CPU and torch), cli (netdsl train
# --precision bf16 on CUDA), tests (the suite, pytest -x). A part that fails or times out is said in
# summary.txt; the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
smoke=0
if [ "${1:-}" = "--cpu-smoke" ]; then smoke=1; shift; fi
logs=${1:-${OUT:-runs/gpu}}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
summary="$logs/summary.txt"
: > "$summary"

if [ $smoke = 1 ]; then
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
  py=${PYTHON:-python}
  device=cpu
else
  # shellcheck source=bench/gpu/gpu_env.sh
  source bench/gpu/gpu_env.sh > "$logs/env.log" 2>&1
  py=python3
  device=cuda
fi

part() {  # part NAME SECONDS COMMAND...: run it under `timeout`, its output in NAME.log, one summary line
  local name=$1 limit=$2 start status
  shift 2
  start=$(date +%s)
  echo "== $name: $*" | tee -a "$summary"
  timeout -k 5 "$limit" "$@" > "$logs/$name.log" 2>&1
  status=$?
  local took=$(( $(date +%s) - start ))
  case $status in
    0) echo "   ok in ${took} s" | tee -a "$summary" ;;
    124|137) echo "   TIMED OUT after ${limit} s (partial log kept)" | tee -a "$summary" ;;
    *) echo "   FAILED (exit $status) in ${took} s: tail of $name.log:" | tee -a "$summary"
       tail -5 "$logs/$name.log" | sed 's/^/      /' | tee -a "$summary" ;;
  esac
}

newest=$($py -c 'from netdsl.runtime.session import max_opset; print(max_opset())' 2>/dev/null || echo 21)
part env 30 $py bench/gpu/versions.py

if [ $smoke = 1 ]; then
  part placement 60 $py bench/gpu/placement.py --specs lenet5 --opsets 18 22
  part onnx 120 $py bench/onnx_speed.py --device cpu --specs lenet5 --batches 1 --rounds 1 --opsets 18 22 --for cpu cuda
  part train 60 $py bench/train_speed.py --device cpu --only ordinal_synth --rounds 1 --steps 2
  part stream 90 $py bench/train_speed.py --device cpu --streaming --files 240 --batch 16 --batches 2 --rounds 1 \
    --workers 0 --folder "${TMPDIR:-/tmp}/netdsl-faces-smoke"
  part check 120 $py bench/gpu/gpu_check.py --quick --only lenet5
  part cli 120 $py -m netdsl train specs/lenet5.net --data digits --epochs 1 --batch-size 256 --device cpu \
    --precision bf16 --out "$logs/run-bf16" --no-color
  part tests 120 $py -m pytest -q -x -p no:cacheprovider tests/training/test_training_precision.py \
    tests/runtime/test_placement.py tests/backends/test_onnx_targets.py
else
  # the issue's figures first, the longest-running checks last (the device time of a session is short)
  part onnx 120 $py bench/onnx_speed.py --device cuda --specs alexnet resnet18 coral_cnn --batches 1 32 256 \
    --rounds 10 --opsets 18 22 --for cpu cuda
  part train 45 $py bench/train_speed.py --device cuda --only coral_cnn --batch 256 --rounds 3 --steps 10
  part placement 40 $py bench/gpu/placement.py --specs resnet18 alexnet coral_cnn --opsets 18 21 22 "$newest"
  part cli 40 $py -m netdsl train specs/ordinal_synth.net --network CORAL --data ordinal-synth --epochs 2 \
    --batch-size 256 --device cuda --precision bf16 --out "$logs/run-bf16" --no-color --quiet
  part tests 90 $py -m pytest -q -x -p no:cacheprovider tests/training tests/runtime tests/backends/test_onnx_targets.py \
    tests/backends/test_onnx_lean.py
  part check 40 $py bench/gpu/gpu_check.py --quick --only alexnet resnet18 coral
  part stream 50 $py bench/train_speed.py --device cuda --streaming --files 2000 --batch 256 --batches 4 \
    --rounds 2 --workers 0 8 15 --folder "${TMPDIR:-/tmp}/netdsl-faces"
fi
echo "logs in $logs"

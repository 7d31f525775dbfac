#!/usr/bin/env bash
# Side-by-side benchmark of the CLIP engine against the original stack (PyTorch CLIP on the CPU),
# on full-size random ViT-B/32 weights, alternating the two so that both see the same machine.
# usage: scripts/bench.sh [BUILD_DIR] [ROUNDS]
# Prints one JSON line per run; docs/PERFORMANCE.md records the results. XRS_BENCH_PRECISIONS
# (default "fp32 bf16 int8") lists the engine's tiers to run each round; the first round also
# measures each lower tier's quality gate on ../shared/datasets/xray (bench --quality).
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
shared=${XRS_SHARED_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
model=${XRS_BENCH_MODEL:-$build/bench-models/ViT-B-32-random}
threads=${XRS_BENCH_THREADS:-2}

if [ ! -f "$model/open_clip_model.safetensors" ]; then
  echo "bench: writing random ViT-B/32 weights to $model" >&2
  /usr/bin/python3 "$shared/tools/make_random_clip.py" "$model" --arch ViT-B/32 >&2
  # A tokenizer beside the weights lets the same folder serve text queries (scripts/load-test.sh).
  cp "$shared/fixtures/clip/vocab.json" "$shared/fixtures/clip/merges.txt" "$model/"
fi
echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
precisions=${XRS_BENCH_PRECISIONS:-fp32 bf16 int8}
lscpu | grep -E "^Model name" >&2 || true
for ((i = 1; i <= rounds; i++)); do
  for p in $precisions; do
    quality=()
    if [ "$i" = 1 ] && [ "$p" != fp32 ] && [ -d "$shared/datasets/xray" ]; then
      quality=(--quality "$shared/datasets/xray")
    fi
    # A failed quality gate prints its figures and exits 1: report it, go on with the rest.
    "$build/apps/xray-search" bench --model "$model" --threads "$threads" --precision "$p" \
      "${quality[@]}" --json || echo "bench: $p failed its quality gate (see above)" >&2
  done
  /usr/bin/python3 "$shared/tools/peer_bench_pytorch.py" "$model" --threads "$threads"
done

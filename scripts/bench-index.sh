#!/usr/bin/env bash
# Indexing throughput against the engine's pure batch throughput, measured alternately in one
# session so that both see the same machine load:
#
#   pure     `xray-search bench --model M --batch B --json`  → image_per_s_batch<B>
#   index    `xray-search index DATA --model M --index (fresh) --batch B --json`
#            → embedded / embed_seconds (the embedding phase, decode + preprocess overlapped)
#              and embedded / seconds (the whole run: validation, hashing, model identity too)
#   re-run   the same index command again with nothing changed: wall seconds
#
# Each round prints one line with the load average (/proc/loadavg, 1-minute) before each step.
# The ratio index/pure is what matters (target ≥ 0.90: decoding hidden behind inference); the
# re-run target is < 2 s.
#
# usage: scripts/bench-index.sh [--build DIR] [--model DIR] [--data DIR] [--rounds N] [--batch B]
# defaults: build, $build/bench-models/ViT-B-32-random (random ViT-B/32 weights, written by
#   ../shared/tools/make_random_clip.py when absent, as scripts/bench.sh does),
#   ../shared/datasets/xray, 2 rounds, batch 32.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${XRS_SHARED_DIR:-$root/../shared}"
build="$root/build"
model=""
data="$shared/datasets/xray"
rounds=2
batch=32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench-index.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

bin="$build/apps/xray-search"
py=/usr/bin/python3
model="${model:-$build/bench-models/ViT-B-32-random}"
if [[ ! -f "$model/open_clip_model.safetensors" && ! -e "$model.safetensors" ]]; then
  echo "bench-index.sh: writing random ViT-B/32 weights to $model" >&2
  "$py" "$shared/tools/make_random_clip.py" "$model" --arch ViT-B/32 >&2
fi
for need in "$bin" "$model" "$data/metadata.csv" "$py"; do
  if [[ ! -e "$need" ]]; then
    echo "bench-index.sh: $need is missing" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
# json FILE KEY: one value of a JSON object.
json() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
now() { date +%s.%N; }

echo "# $(nproc) cores; model $model; data $data; batch $batch"
printf '%-5s %-6s %-10s %-6s %-12s %-12s %-7s %-7s %-6s %-8s\n' round load1 pure_img/s load1 \
  index_img/s run_img/s ratio run_r load1 rerun_s
for ((r = 1; r <= rounds; ++r)); do
  l1="$(load)"
  "$bin" bench --model "$model" --batch "$batch" --json > "$work/bench.json"
  pure="$(json "$work/bench.json" "image_per_s_batch$batch")"

  l2="$(load)"
  rm -rf "$work/idx"
  "$bin" index "$data" --model "$model" --index "$work/idx" --batch "$batch" --json \
    > "$work/index.json" 2> "$work/index.err"
  embedded="$(json "$work/index.json" embedded)"
  embed_s="$(json "$work/index.json" embed_seconds)"
  run_s="$(json "$work/index.json" seconds)"

  l3="$(load)"
  t0="$(now)"
  "$bin" index "$data" --model "$model" --index "$work/idx" --batch "$batch" --json \
    > "$work/rerun.json" 2> "$work/rerun.err"
  t1="$(now)"
  [[ "$(json "$work/rerun.json" embedded)" == 0 ]] || echo "warning: the re-run embedded images" >&2

  "$py" - "$r" "$l1" "$pure" "$l2" "$embedded" "$embed_s" "$run_s" "$l3" "$t0" "$t1" <<'EOF'
import sys
r, l1, pure, l2, n, embed_s, run_s, l3, t0, t1 = sys.argv[1:]
pure, n, embed_s, run_s = float(pure), int(n), float(embed_s), float(run_s)
index, whole = n / embed_s, n / run_s
print(f"{r:<5} {l1:<6} {pure:<10.2f} {l2:<6} {index:<12.2f} {whole:<12.2f} "
      f"{index / pure:<7.3f} {whole / pure:<7.3f} {l3:<6} {float(t1) - float(t0):<8.2f}")
EOF
done

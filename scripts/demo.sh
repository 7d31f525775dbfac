#!/usr/bin/env bash
# `make demo`: from a built tree to a served X-ray search page.
#   model  $XRAY_MODEL, else models/ViT-B-32 if present, else the project-trained models/xray-small
#   data   $XRAY_DATA, else data/xray if present, else `xray-search dataset fetch`, else the small
#          committed set datasets/xray-demo (no network needed)
#   then   validate → index ($XRAY_INDEX, default $BUILD/demo-index) → serve on $XRAY_PORT (8080)
# Each step that cannot run says exactly what to put where.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
bin="$build/apps/xray-search"
port=${XRAY_PORT:-8080}
index=${XRAY_INDEX:-$build/demo-index}

say() { echo "demo: $*" >&2; }
die() { echo "demo: $*" >&2; exit 1; }

[ -x "$bin" ] || die "$bin is missing; run 'make build' first"

model=${XRAY_MODEL:-}
if [ -z "$model" ]; then
  model=models/ViT-B-32
  if [ ! -e "$model" ]; then
    model=models/xray-small
    say "no models/ViT-B-32: using the project-trained $model (a small CLIP trained by
  'xray-search train' on chest, dental and hand X-rays; it knows only those words, see
  $model/MODEL_CARD.md). For general queries get OpenAI's ViT-B/32:
  $bin model fetch ViT-B/32 --dir models/ViT-B-32"
  fi
fi
[ -e "$model" ] || die "XRAY_MODEL=$model does not exist"

data=${XRAY_DATA:-}
if [ -z "$data" ]; then
  data=data/xray
  # A fetch that downloaded nothing (no network) leaves metadata.csv without images: not a dataset.
  if [ ! -e "$data/metadata.csv" ] || [ -z "$(find "$data/raw" -type f -print -quit 2>/dev/null)" ]; then
    say "no dataset in $data: downloading the images listed in datasets/xray/metadata.csv"
    if ! "$bin" dataset fetch datasets/xray/metadata.csv --out "$data"; then
      data=datasets/xray-demo
      say "could not download the dataset: using the small committed set $data (100 chest and
  dental images that may be redistributed; datasets/xray-demo/README.md). For the full set put a
  dataset at $root/data/xray (metadata.csv + raw/<category>/<image>, see docs/VALIDATION.md),
  or set XRAY_DATA=/path/to/dataset."
    fi
  fi
fi
[ -e "$data/metadata.csv" ] || die "XRAY_DATA=$data has no metadata.csv"

say "model $model, data $data, index $index"
"$bin" validate "$data" || die "the dataset is invalid (problems listed above); fix them and rerun"
"$bin" index "$data" --model "$model" --index "$index"
say "starting the server; open the URL below in a browser (Ctrl-C stops it)"
exec "$bin" serve --index "$index" --port "$port"

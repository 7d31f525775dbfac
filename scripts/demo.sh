#!/usr/bin/env bash
# `make demo`: from a built tree to a served X-ray search page.
#   model  $XRAY_MODEL, else models/ViT-B-32 if present, else `xray-search model fetch ViT-B/32`
#   data   $XRAY_DATA, else data/xray if present, else `xray-search dataset fetch`
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
    say "no model in $model: downloading OpenAI's ViT-B/32 (about 340 MB)"
    "$bin" model fetch ViT-B/32 --dir "$model" || die "could not download the model.
  Put OpenAI's ViT-B-32.pt and bpe_simple_vocab_16e6.txt.gz into $root/$model/
  (or any CLIP model folder: see docs/MODEL_FORMATS.md), or set XRAY_MODEL=/path/to/model."
  fi
fi
[ -e "$model" ] || die "XRAY_MODEL=$model does not exist"

data=${XRAY_DATA:-}
if [ -z "$data" ]; then
  data=data/xray
  if [ ! -e "$data/metadata.csv" ]; then
    say "no dataset in $data: downloading the images listed in datasets/xray/metadata.csv"
    "$bin" dataset fetch datasets/xray/metadata.csv --out "$data" || die "could not download the dataset.
  Put a dataset at $root/$data (metadata.csv + raw/<category>/<image>, see docs/VALIDATION.md),
  or set XRAY_DATA=/path/to/dataset."
  fi
fi
[ -e "$data/metadata.csv" ] || die "XRAY_DATA=$data has no metadata.csv"

say "model $model, data $data, index $index"
"$bin" validate "$data" || die "the dataset is invalid (problems listed above); fix them and rerun"
"$bin" index "$data" --model "$model" --index "$index"
say "starting the server; open the URL below in a browser (Ctrl-C stops it)"
exec "$bin" serve --index "$index" --port "$port"

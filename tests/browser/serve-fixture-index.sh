#!/bin/sh
# Indexes the real dataset with the fixture model (incremental: fast after the first run) and
# serves it on a free port; prints "listening on http://..." once ready (the browser tests wait
# for that line). usage: serve-fixture-index.sh XRAY_SEARCH SHARED_DIR INDEX_DIR
set -eu
bin=$1 shared=$2 index=$3
"$bin" index "$shared/datasets/xray" --model "$shared/fixtures/clip/tiny-openai-b32" \
  --index "$index" >&2
exec "$bin" serve --index "$index" --port 0

#!/bin/sh
# Indexes a real X-ray dataset with a model (incremental: fast after the first run) and serves it
# on a free port; prints "listening on http://..." once ready (the browser tests wait for that
# line). tests/server/CMakeLists.txt passes ../shared's dataset and fixture model where present,
# else the committed datasets/xray-demo and models/xray-small.
# usage: serve-fixture-index.sh XRAY_SEARCH DATA_DIR MODEL_DIR INDEX_DIR
set -eu
bin=$1 data=$2 model=$3 index=$4
"$bin" index "$data" --model "$model" --index "$index" >&2
exec "$bin" serve --index "$index" --port 0

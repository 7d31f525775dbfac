#!/usr/bin/env bash
# Load test of `xray-search serve` from second processes on loopback: wrk sends text searches
# and image searches (multipart uploads) at the same time; prints requests/s, p50/p99 latency and
# errors for each. docs/PERFORMANCE.md records the results.
# usage: scripts/load-test.sh [BUILD_DIR]
#   XRS_LOAD_MODEL     model (default: the tiny fixture model; a full-size ViT-B/32 folder with a
#                      tokenizer measures real embedding cost)
#   XRS_LOAD_DATA      dataset to index (default ../shared/datasets/xray)
#   XRS_LOAD_SECONDS   duration (default 20), XRS_LOAD_CONNECTIONS per wrk (default 4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shared=${XRS_SHARED_DIR:-$root/../shared}
bin="$build/apps/xray-search"
model=${XRS_LOAD_MODEL:-$shared/fixtures/clip/tiny-openai-b32}
data=${XRS_LOAD_DATA:-$shared/datasets/xray}
seconds=${XRS_LOAD_SECONDS:-20}
conns=${XRS_LOAD_CONNECTIONS:-4}
index="$build/load-test-index/$(basename "$model")"
command -v wrk >/dev/null || { echo "load-test: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

"$bin" index "$data" --model "$model" --index "$index" >&2
log=$(mktemp)
"$bin" serve --index "$index" --port 0 --threads 8 >"$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$log" | head -1)
[ -n "$url" ] || { echo "load-test: the server did not start" >&2; exit 1; }
export XRS_LOAD_IMAGE=${XRS_LOAD_IMAGE:-$shared/fixtures/clip/images/cxr-actm-0001.png}
echo "load-test: $url, model $(basename "$model"), ${seconds}s, $conns+$conns connections," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
wrk -t 1 -c "$conns" -d "${seconds}s" -s "$root/bench/load/text_search.lua" "$url" >"$log.text" &
wrk -t 1 -c "$conns" -d "${seconds}s" -s "$root/bench/load/image_search.lua" "$url" >"$log.image"
wait %2 2>/dev/null || true
sleep 1
grep -h RESULT "$log.text" "$log.image"
rm -f "$log.text" "$log.image"

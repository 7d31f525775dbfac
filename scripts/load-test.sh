#!/usr/bin/env bash
# Load test of `xray-search serve` from second processes on loopback: wrk sends text searches
# and image searches (multipart uploads) at the same time; prints requests/s, p50/p99 latency and
# errors for each. docs/PERFORMANCE.md records the results.
# usage: scripts/load-test.sh [BUILD_DIR]
#   XRS_LOAD_MODEL     model (default: the tiny fixture model; a full-size ViT-B/32 folder with a
#                      tokenizer measures real embedding cost)
#   XRS_LOAD_DATA      dataset to index (default ../shared/datasets/xray)
#   XRS_LOAD_SECONDS   duration (default 20), XRS_LOAD_CONNECTIONS per wrk (default 4)
#   XRS_LOAD_TIMEOUT   seconds before wrk counts a request as a socket error (default 30)
#   XRS_LOAD_KINDS     which wrk processes run (default "text image"; "image": image searches only)
#   XRS_LOAD_SERVE_ARGS  more `serve` options, e.g. "--batch-max-size 1" (batching off)
#   XRS_LOAD_INDEX_ARGS  more `index` options, e.g. "--precision bf16" (the server follows it)
# After the run it prints the server's batching counters (/api/health image_batching): how many
# batches it formed and how many queries they held.
# The server runs without per-client rate limits (every wrk connection comes from 127.0.0.1,
# which the default limits would treat as one client).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shared=${XRS_SHARED_DIR:-$root/../shared}
bin="$build/apps/xray-search"
model=${XRS_LOAD_MODEL:-$shared/fixtures/clip/tiny-openai-b32}
data=${XRS_LOAD_DATA:-$shared/datasets/xray}
seconds=${XRS_LOAD_SECONDS:-20}
conns=${XRS_LOAD_CONNECTIONS:-4}
kinds=${XRS_LOAD_KINDS:-text image}
# shellcheck disable=SC2206
serve_args=(${XRS_LOAD_SERVE_ARGS:-})
# shellcheck disable=SC2206
index_args=(${XRS_LOAD_INDEX_ARGS:-})
index="$build/load-test-index/$(basename "$model")$(printf '%s' "${index_args[*]:-}" | tr -c 'A-Za-z0-9' '-')"
command -v wrk >/dev/null || { echo "load-test: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

"$bin" index "$data" --model "$model" --index "$index" "${index_args[@]}" >&2
log=$(mktemp)
"$bin" serve --index "$index" --port 0 --threads 8 --rate-limit 0 --uploads-per-client 0 \
  "${serve_args[@]}" >"$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$log" | head -1)
[ -n "$url" ] || { echo "load-test: the server did not start" >&2; exit 1; }
export XRS_LOAD_IMAGE=${XRS_LOAD_IMAGE:-$shared/fixtures/clip/images/cxr-actm-0001.png}
echo "load-test: $url, model $(basename "$model"), ${seconds}s, $conns connections per kind" \
  "($kinds), serve ${serve_args[*]:-(defaults)}, $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
pids=()
for kind in $kinds; do
  wrk -t 1 -c "$conns" -d "${seconds}s" --timeout "${XRS_LOAD_TIMEOUT:-30}s" -s "$root/bench/load/${kind}_search.lua" "$url" \
    >"$log.$kind" &
  pids+=($!)
done
wait "${pids[@]}" || true
for kind in $kinds; do grep -h RESULT "$log.$kind" || true; rm -f "$log.$kind"; done
if command -v curl >/dev/null; then
  echo "load-test: image_batching $(curl -s "$url/api/health" | grep -o '"image_batching":{[^}]*}')" >&2
fi

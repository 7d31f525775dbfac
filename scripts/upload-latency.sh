#!/usr/bin/env bash
# Upload latency of one client: starts `xray-search serve` on an existing index and runs wrk with a
# single connection posting one image after another (POST /api/search/image, k = 10) for a few
# seconds; prints wrk's RESULT line (requests, errors, requests/s, p50, p99).
#
# usage: scripts/upload-latency.sh BINARY INDEX_DIR [SECONDS]
#   XRS_LOAD_IMAGE  the uploaded file (default ../shared/fixtures/clip/images/cxr-actm-0001.png)
# Used for the decoder-worker cost in docs/PERFORMANCE.md (run the binaries before and after a
# change alternately on the same index).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${XRS_SHARED_DIR:-$root/../shared}
bin=${1:?usage: upload-latency.sh BINARY INDEX_DIR [SECONDS]}
index=${2:?usage: upload-latency.sh BINARY INDEX_DIR [SECONDS]}
seconds=${3:-10}
command -v wrk >/dev/null || { echo "upload-latency: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
log=$(mktemp)
"$bin" serve --index "$index" --port 0 --threads 8 >"$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$log" | head -1)
[ -n "$url" ] || { echo "upload-latency: the server did not start" >&2; exit 1; }
export XRS_LOAD_IMAGE=${XRS_LOAD_IMAGE:-$shared/fixtures/clip/images/cxr-actm-0001.png}
wrk -t 1 -c 1 -d "${seconds}s" -s "$root/bench/load/image_search.lua" "$url" | grep RESULT

#!/usr/bin/env bash
# Index a dataset on a Slurm cluster: a job array of N shard tasks, then a merge job that runs
# only when every task succeeded. Prints the two job ids ("ARRAY_ID MERGE_ID").
#
# usage: deploy/slurm/submit.sh --data DIR --model M --out DIR --index IDX [--shards N]
#          [--threads T] [--bin PATH] [--logs DIR] [-- extra sbatch options, e.g. --partition=...]
# Logs: LOGS/index-<array job>-<task index>.out and LOGS/merge-<job>.out (default LOGS=OUT/logs).
# Paths must be visible on every node (a shared file system). docs/DEPLOYMENT.md, "Slurm".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=4
threads=2
bin=$(command -v xray-search || true)
data="" model="" out="" index="" logs=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --index) index=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "submit.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in data model out index bin; do
  [[ -n "${!v}" ]] || { echo "submit.sh: --$v is required" >&2; exit 2; }
done
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: --shards must be a positive number" >&2; exit 2; }
abs() { realpath -m "$1"; }
logs=${logs:-$out/logs}
mkdir -p "$out" "$logs"
export XRS_BIN=$(abs "$bin") XRS_DATA=$(abs "$data") XRS_MODEL=$(abs "$model")
export XRS_OUT=$(abs "$out") XRS_INDEX=$(abs "$index") XRS_SHARDS=$shards XRS_THREADS=$threads
array=$(sbatch --parsable --array="0-$((shards - 1))" --cpus-per-task="$threads" \
  --export=ALL -o "$logs/index-%A-%a.out" "$@" "$here/index-shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --export=ALL -o "$logs/merge-%j.out" "$@" "$here/merge.sbatch")
echo "$array ${merge%%;*}"

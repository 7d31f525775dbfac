#!/usr/bin/env bash
# Issue 11: the Slurm path for real. Starts a one-node Slurm cluster on loopback (munge,
# slurmctld, slurmd; config in a scratch folder through SLURM_CONF), submits
# deploy/slurm/submit.sh with 2 shards over ../shared/datasets/xray and the tiny fixture model
# (without ../shared: the committed datasets/xray-demo and models/xray-small),
# waits for the array and the dependent merge, and checks that the merged index answers searches
# exactly as an index built in one run. Everything it started is stopped at the end.
#
# usage: slurm_test.sh XRAY_SEARCH_BINARY SOURCE_DIR SHARED_DIR SCRATCH_DIR
# Exit 77 (CTest: skipped, with the reason on stdout) when Slurm cannot run here: not root, the
# packages are missing (apt-get install slurm-wlm munge), or the cluster does not come up.
set -uo pipefail
bin=$(realpath "$1"); src=$(realpath "$2"); shared=$3; S=$4
skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAILED: $*"; for f in "$S"/log/*.log "$S"/out/logs/*; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }

[[ $(id -u) -eq 0 ]] || skip "the one-node Slurm cluster needs root (munged and slurmd run as root)"
for p in slurmctld slurmd sbatch squeue scontrol sinfo munged munge; do
  command -v "$p" >/dev/null || skip "$p is not installed (apt-get install slurm-wlm munge)"
done
# ../shared's dataset and fixture model where present, else the committed demo set and model.
data="$shared/datasets/xray"; model="$shared/fixtures/clip/tiny-openai-b32"
if [[ ! -f "$data/metadata.csv" || ! -d "$model" ]]; then
  data="$src/datasets/xray-demo"; model="$src/models/xray-small"
fi
[[ -f "$data/metadata.csv" && -d "$model" ]] || skip "neither ../shared nor $data has a dataset"

rm -rf "$S"; mkdir -p "$S"/{state,spool,log,out}
host=$(hostname -s)
started_munge=""
cleanup() {
  scancel -u root >/dev/null 2>&1
  local ct sd
  ct=$(cat "$S/slurmctld.pid" 2>/dev/null); sd=$(cat "$S/slurmd.pid" 2>/dev/null)
  scontrol shutdown >/dev/null 2>&1
  for _ in $(seq 40); do
    { [[ -n "$ct" ]] && kill -0 "$ct" 2>/dev/null; } || { [[ -n "$sd" ]] && kill -0 "$sd" 2>/dev/null; } || break
    sleep 0.25
  done
  [[ -n "$ct" ]] && kill -9 "$ct" 2>/dev/null
  [[ -n "$sd" ]] && kill -9 "$sd" 2>/dev/null
  [[ -n "$started_munge" ]] && kill "$started_munge" 2>/dev/null
}
trap cleanup EXIT

# munge: reuse a running munged, else start one (with a key made once by the package).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [[ -f /etc/munge/munge.key ]] || mungekey -c -k /etc/munge/munge.key >/dev/null 2>&1 || skip "cannot create a munge key"
  chown munge:munge /etc/munge/munge.key 2>/dev/null; chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged 2>"$S/log/munged.err" || skip "munged does not start: $(cat "$S/log/munged.err")"
  started_munge=$(cat /run/munge/munged.pid 2>/dev/null)
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work"
fi

cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat > "$S/slurm.conf" <<CONF
ClusterName=xrstest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
DependencyParameters=kill_invalid_depend
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$S/slurm.conf"
slurmctld >/dev/null 2>&1 || skip "slurmctld does not start (see $S/log/slurmctld.log)"
slurmd >/dev/null 2>&1 || skip "slurmd does not start (see $S/log/slurmd.log)"
for i in $(seq 60); do [[ "$(sinfo -h -o %t 2>/dev/null)" == idle ]] && break; sleep 0.5; done
[[ "$(sinfo -h -o %t 2>/dev/null)" == idle ]] || skip "the one-node cluster did not become idle in 30 s: $(sinfo 2>&1 | tail -1)"
echo "slurm: one node ($host, $cpus CPUs) is idle"

ids=$("$src/deploy/slurm/submit.sh" --bin "$bin" --data "$data" --model "$model" \
  --out "$S/out" --index "$S/merged" --shards 2 --threads 1) || fail "submit.sh failed"
read -r array merge <<<"$ids"
echo "slurm: array job $array, merge job $merge"
for i in $(seq 600); do [[ -z "$(squeue -h 2>/dev/null)" ]] && break; sleep 0.5; done
[[ -z "$(squeue -h)" ]] && echo "slurm: all jobs ended" || fail "jobs still queued after 300 s: $(squeue)"
state=$(scontrol show job "$merge" 2>/dev/null | grep -o 'JobState=[A-Z]*')
[[ "$state" == "JobState=COMPLETED" ]] || fail "merge job $merge: $state"
for k in 0 1; do
  log="$S/out/logs/index-$array-$k.out"
  [[ -s "$log" ]] || fail "no log named by task index: $log"
  grep -q "shard $k/2" "$log" || fail "$log does not name shard $k/2"
done

# The reference: one index run over the whole dataset.
"$bin" index "$data" --model "$model" --index "$S/single" >/dev/null 2>&1 || fail "single-run index"
for q in "hand x-ray" "chest radiograph" "dental panoramic"; do
  a=$("$bin" search --index "$S/merged" --text "$q" --k 20 --min-score -1 --json) || fail "search merged"
  b=$("$bin" search --index "$S/single" --text "$q" --k 20 --min-score -1 --json) || fail "search single"
  python3 - "$a" "$b" "$q" <<'PY' || fail "search results differ for '$q'"
import json, sys
def hits(t):
    return sorted(((round(h["score"], 5), h["image_name"]) for h in json.loads(t)["results"]),
                  key=lambda x: (-x[0], x[1]))
a, b = hits(sys.argv[1]), hits(sys.argv[2])
assert len(a) == 20 and a == b, (a[:3], b[:3])
print("slurm: '%s' gives the same 20 results (top %s %.4f)" % (sys.argv[3], a[0][1], a[0][0]))
PY
done
echo "PASSED: 2 shard tasks and the merge ran under Slurm; the merged index equals the single run"

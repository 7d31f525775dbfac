#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/FUZZING.md) with clang, ASan and UBSan, then runs them
# one after another, in one of two modes.
#
# usage: scripts/fuzz.sh --ci [TARGET...]
#        scripts/fuzz.sh [--explore] [--minutes N] [TARGET...]
#   (TARGET: csv dataset_config safetensors torchscript pickle tokenizer image http; default all)
#
# --ci       What .ci/run does: reproducible, a pass or fail that depends on the code and the
#            inputs, never on the machine's speed or on chance. For each target:
#              1. replay: every known input runs once: fuzz/regressions/<t>/, fuzz/corpus/<t>/,
#                 the generated seeds and regressions (<build>/fuzz-generated-seeds/<t>/, written by
#                 fuzz/make_seeds.py) and the seeds copied from ../shared (with its regressions/);
#              2. a bounded, seeded exploration: libFuzzer -seed=$XRS_FUZZ_CI_SEED -runs=<the
#                 target's budget below>, starting from exactly those inputs in name order (a fresh
#                 corpus every time), no time limit, no corpus reloading. The same code and
#                 inputs give the same inputs tried, whatever the machine; a per-input -timeout of
#                 60 s only catches real hangs. About 5 minutes for all targets on 2 cores.
# --explore  (the default) Open-ended search for new bugs: each target for N minutes (--minutes,
#            default 1; XRS_FUZZ_SECONDS=S sets seconds instead), a random seed, the working corpus
#            <build>/fuzz-corpus/<t>/ growing from run to run. What it finds becomes a regression
#            (docs/FUZZING.md, "From a finding to a regression"); it is not part of CI.
#
# env:   XRS_FUZZ_BUILD     build folder (default build-fuzz)
#        XRS_FUZZ_JOBS      parallel compile jobs (default 2)
#        XRS_FUZZ_CI_SEED   --ci: libFuzzer's -seed (default 1)
#        XRS_FUZZ_CI_RUNS   --ci: replaces every target's -runs budget (a quick check)
#        XRS_FUZZ_SECONDS   --explore: seconds per target (overrides --minutes)
#
# Per target, in the build folder: fuzz-seeds/<t>/ the seeds copied from ../shared (when present),
# fuzz-artifacts/<t>/ what a failing run leaves (crash-*, leak-*, timeout-*, oom-*),
# fuzz-logs/<t>.log (and <t>.replay.log in --ci) the output; --explore also keeps
# fuzz-corpus/<t>/. Exit status: 0 when nothing was found, 1 when a target crashed, leaked, timed
# out or ran out of memory (the inputs' paths are printed: replay one with
# `BUILD/fuzz/fuzz_<t> FILE`), 2 for a usage or build error. A target that cannot run here (the
# tokenizer without its vocabulary) is reported as skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${XRS_FUZZ_BUILD:-$root/build-fuzz}
jobs=${XRS_FUZZ_JOBS:-2}
ci_seed=${XRS_FUZZ_CI_SEED:-1}
shared=$root/../shared

all_targets=(csv dataset_config safetensors torchscript pickle tokenizer image http)
# The longest input each format needs to reach its interesting states.
declare -A max_len=([csv]=16384 [dataset_config]=4096 [safetensors]=16384 [torchscript]=65536
                    [pickle]=8192 [tokenizer]=10000 [image]=65536 [http]=65536)
# --ci: libFuzzer -runs per target (executions, the seed inputs included), sized for 25-50 s each
# on a loaded 2-core machine, about 5 minutes in all (docs/FUZZING.md, "Runs", has the timings).
# A larger budget continues the same search further (the first runs stay the same).
declare -A ci_runs=([csv]=20000 [dataset_config]=120000 [safetensors]=40000
                    [torchscript]=150000 [pickle]=200000 [tokenizer]=25000 [image]=45000
                    [http]=25000)

usage() {
  sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
mode=explore
minutes=1
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --ci) mode=ci ;;
    --explore) mode=explore ;;
    --minutes)
      [ $# -ge 2 ] || usage
      minutes=$2
      shift ;;
    --minutes=*) minutes=${1#--minutes=} ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; usage ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [ -z "${max_len[$t]:-}" ]; then
    echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done
positive() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ]; }
if [ "$mode" = explore ]; then
  positive "$minutes" || { echo "fuzz.sh: --minutes must be a positive integer, not '$minutes'" >&2; exit 2; }
  seconds=${XRS_FUZZ_SECONDS:-$((minutes * 60))}
  positive "$seconds" ||
    { echo "fuzz.sh: XRS_FUZZ_SECONDS must be a positive integer, not '$seconds'" >&2; exit 2; }
else
  [[ "$ci_seed" =~ ^[0-9]+$ ]] ||
    { echo "fuzz.sh: XRS_FUZZ_CI_SEED must be a number, not '$ci_seed'" >&2; exit 2; }
  if [ -n "${XRS_FUZZ_CI_RUNS:-}" ]; then
    positive "$XRS_FUZZ_CI_RUNS" ||
      { echo "fuzz.sh: XRS_FUZZ_CI_RUNS must be a positive integer" >&2; exit 2; }
    for t in "${all_targets[@]}"; do ci_runs[$t]=$XRS_FUZZ_CI_RUNS; done
  fi
fi
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool is not installed" >&2; exit 2; }
done

# ---- build -------------------------------------------------------------------------------------
# -O1 -g without NDEBUG: assertions stay on, stacks stay readable. Configuring also writes the
# generated seeds and regressions (fuzz/make_seeds.py, through fuzz/targets.cmake).
echo "fuzz.sh: configuring $build (clang, XRS_FUZZ=ON)"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DXRS_FUZZ=ON -DXRS_BUILD_TESTS=OFF \
  -DXRS_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null ||
  { echo "fuzz.sh: cmake failed" >&2; exit 2; }
executables=()
for t in "${targets[@]}"; do executables+=("fuzz_$t"); done
echo "fuzz.sh: building ${executables[*]}"
ninja -C "$build" -j "$jobs" "${executables[@]}" || { echo "fuzz.sh: build failed" >&2; exit 2; }

# ---- seeds from ../shared (copied, never committed; files cut to the target's max_len) ---------
copy_seeds() {  # target, files...
  local dir=$build/fuzz-seeds/$1 len=${max_len[$1]} f
  shift
  for f in "$@"; do
    [ -f "$f" ] && head -c "$len" "$f" >"$dir/$(basename "$f")"
  done
  return 0
}
prepare_seeds() {
  local t=$1 dir=$build/fuzz-seeds/$1
  rm -rf "$dir" && mkdir -p "$dir"
  [ -d "$shared" ] || return 0
  case $t in
    csv) copy_seeds csv "$shared/datasets/xray/metadata.csv" ;;
    safetensors) copy_seeds safetensors "$shared"/fixtures/clip/*/*.safetensors ;;
    image) copy_seeds image "$shared"/fixtures/clip/images/* "$shared"/datasets/xray-special/*.png \
             "$shared"/datasets/xray-special/*.dcm "$shared"/regressions/*.dcm ;;
    tokenizer)
      if [ -f "$shared/fixtures/clip/tokenizer_cases.jsonl" ]; then
        python3 - "$shared/fixtures/clip/tokenizer_cases.jsonl" "$dir" <<'EOF'
import json, sys
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    with open("%s/case-%03d.txt" % (sys.argv[2], i), "w", encoding="utf-8") as f:
        f.write(json.loads(line)["text"])
EOF
      fi ;;
  esac
}

# Every known input of target $1, one path a line, in byte order of the path (stable across
# machines, unlike a folder's listing order).
known_inputs() {
  local t=$1 d
  for d in "$root/fuzz/regressions/$t" "$root/fuzz/corpus/$t" "$build/fuzz-generated-seeds/$t" \
           "$build/fuzz-seeds/$t"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f
  done | LC_ALL=C sort
}

# ---- run ---------------------------------------------------------------------------------------
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# Known upstream leaks in GDCM's bundled libjpeg (fuzz/lsan.supp says which and why).
export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
failed=()
skipped=()
mkdir -p "$build/fuzz-logs"
run_start=$(date +%s)

# Reports how fuzz_$t ended (status $2, log $3); returns 1 when it failed.
report() {
  local t=$1 status=$2 log=$3 what=$4 artifacts=$build/fuzz-artifacts/$1 found
  found=$(find "$artifacts" -type f | sort)
  if [ "$status" -eq 77 ]; then
    echo "fuzz.sh: fuzz_$t SKIPPED: $(grep -m1 '^skipped:' "$log" || echo 'see the log')"
    skipped+=("$t")
    return 2
  elif [ "$status" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz.sh: fuzz_$t $what FAILED (exit $status); the end of its log ($log):"
    tail -n 40 "$log" | sed 's/^/    /'
    if [ -n "$found" ]; then
      echo "fuzz.sh: input(s) that fail, kept in the build folder (replay: $build/fuzz/fuzz_$t FILE;"
      echo "         make it a regression: docs/FUZZING.md, 'From a finding to a regression'):"
      echo "$found" | sed 's/^/    /'
    fi
    failed+=("$t")
    return 1
  fi
  return 0
}

for t in "${targets[@]}"; do
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$build/fuzz-generated-seeds/$t"
  rm -rf "$artifacts" && mkdir -p "$artifacts"
  prepare_seeds "$t"
  args=(-max_len="${max_len[$t]}" -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1
        -artifact_prefix="$artifacts/" -print_final_stats=1)
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  t_start=$(date +%s)

  if [ "$mode" = ci ]; then
    mapfile -t inputs < <(known_inputs "$t")
    # 1. replay: libFuzzer runs files named on its command line once each, whole (not cut to
    # -max_len), and stops at the first that fails.
    replay_log=$build/fuzz-logs/$t.replay.log
    status=0
    if [ ${#inputs[@]} -gt 0 ]; then
      "$build/fuzz/fuzz_$t" "${args[@]}" -timeout=60 "${inputs[@]}" >"$replay_log" 2>&1 || status=$?
    fi
    report "$t" "$status" "$replay_log" "replay of ${#inputs[@]} known inputs" || continue
    # 2. seeded exploration from exactly those inputs, in that order.
    # Without address space layout randomisation: the comparison operands libFuzzer records
    # (its -use_cmp dictionary) include pointers, which would otherwise differ from run to run.
    fixed_layout=()
    setarch "$(uname -m)" -R true 2>/dev/null && fixed_layout=(setarch "$(uname -m)" -R)
    corpus=$(mktemp -d "$build/fuzz-ci-corpus-$t.XXXXXX")
    list=$build/fuzz-logs/$t.seed_inputs
    printf '%s\n' "${inputs[@]}" | grep -v ',' | paste -sd, >"$list" || true
    seed_args=()
    [ -s "$list" ] && seed_args=(-seed_inputs=@"$list")
    echo "fuzz.sh: fuzz_$t: replayed ${#inputs[@]} inputs; exploring -seed=$ci_seed" \
         "-runs=${ci_runs[$t]} (log $log)"
    status=0
    [ ${#fixed_layout[@]} -eq 0 ] &&
      echo "fuzz.sh: warning: setarch -R fails here; pointer values may vary the search"
    "${fixed_layout[@]}" "$build/fuzz/fuzz_$t" "${args[@]}" -seed="$ci_seed" \
      -runs="${ci_runs[$t]}" -timeout=60 -reload=0 "${seed_args[@]}" "$corpus" >"$log" 2>&1 ||
      status=$?
    rm -rf "$corpus"
    report "$t" "$status" "$log" "seeded exploration (-seed=$ci_seed -runs=${ci_runs[$t]})" ||
      continue
  else
    corpus=$build/fuzz-corpus/$t
    mkdir -p "$corpus"
    echo "fuzz.sh: fuzz_$t for ${seconds} s (max_len ${max_len[$t]}; log $log)"
    status=0
    # libFuzzer refuses a missing folder: the committed seeds exist for some formats only.
    seed_dirs=("$build/fuzz-seeds/$t" "$build/fuzz-generated-seeds/$t")
    [ -d "$root/fuzz/corpus/$t" ] && seed_dirs+=("$root/fuzz/corpus/$t")
    [ -d "$root/fuzz/regressions/$t" ] && seed_dirs+=("$root/fuzz/regressions/$t")
    "$build/fuzz/fuzz_$t" "${args[@]}" -max_total_time="$seconds" -timeout=10 "$corpus" \
      "${seed_dirs[@]}" >"$log" 2>&1 || status=$?
    report "$t" "$status" "$log" "exploration" || continue
  fi
  echo "fuzz.sh: fuzz_$t ok in $(($(date +%s) - t_start)) s: $(grep -m1 '^Done ' "$log" || true)" \
       "$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9/]*[A-Za-z]*' "$log" | tail -n 1)"
done

echo "fuzz.sh: $mode mode, ${#targets[@]} target(s) in $(($(date +%s) - run_start)) s"
[ ${#skipped[@]} -gt 0 ] && echo "fuzz.sh: skipped: ${skipped[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: no crash, leak, timeout or memory blow-up found in ${targets[*]}"

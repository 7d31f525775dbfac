#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/FUZZING.md) with clang, ASan and UBSan, then runs
# each for a bounded time, one after another.
#
# usage: scripts/fuzz.sh [TARGET...]      (default: all; csv dataset_config safetensors torchscript
#                                          pickle tokenizer image http)
# env:   XRS_FUZZ_SECONDS  seconds per target (default 60: about 8 minutes for all of them, plus
#                          the first build)
#        XRS_FUZZ_BUILD    build folder (default build-fuzz)
#        XRS_FUZZ_JOBS     parallel compile jobs (default 2)
#
# Per target, in the build folder: fuzz-corpus/<t>/ is the growing working corpus (kept between
# runs), fuzz-seeds/<t>/ the seeds copied from ../shared (when present), fuzz-artifacts/<t>/
# what a failing run leaves (crash-*, leak-*, timeout-*, oom-*), fuzz-logs/<t>.log the output.
# Exit status: 0 when nothing was found, 1 when a target crashed, leaked, timed out or ran out of
# memory (the inputs' paths are printed: replay one with `BUILD/fuzz/fuzz_<t> FILE`), 2 for a
# usage or build error. A target that cannot run here (the tokenizer without its vocabulary)
# is reported as skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${XRS_FUZZ_BUILD:-$root/build-fuzz}
seconds=${XRS_FUZZ_SECONDS:-60}
jobs=${XRS_FUZZ_JOBS:-2}
shared=$root/../shared

all_targets=(csv dataset_config safetensors torchscript pickle tokenizer image http)
# The longest input each format needs to reach its interesting states.
declare -A max_len=([csv]=16384 [dataset_config]=4096 [safetensors]=16384 [torchscript]=65536
                    [pickle]=8192 [tokenizer]=10000 [image]=65536 [http]=65536)

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [ -z "${max_len[$t]:-}" ]; then
    echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: XRS_FUZZ_SECONDS must be a positive integer, not '$seconds'" >&2
  exit 2
fi
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool is not installed" >&2; exit 2; }
done

# ---- build -------------------------------------------------------------------------------------
# -O1 -g without NDEBUG: assertions stay on, stacks stay readable.
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
             "$shared"/datasets/xray-special/*.dcm ;;
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

# ---- run ---------------------------------------------------------------------------------------
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# Known upstream leaks in GDCM's bundled libjpeg (fuzz/lsan.supp says which and why).
export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
failed=()
skipped=()
mkdir -p "$build/fuzz-logs"
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$build/fuzz-generated-seeds/$t"
  rm -rf "$artifacts" && mkdir -p "$artifacts"
  prepare_seeds "$t"
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=10
        -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$artifacts/" -print_final_stats=1)
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  echo "fuzz.sh: fuzz_$t for ${seconds} s (max_len ${max_len[$t]}; log $log)"
  status=0
  # libFuzzer refuses a missing folder: the committed seeds exist for the text formats only.
  seed_dirs=("$build/fuzz-seeds/$t" "$build/fuzz-generated-seeds/$t")
  [ -d "$root/fuzz/corpus/$t" ] && seed_dirs+=("$root/fuzz/corpus/$t")
  "$build/fuzz/fuzz_$t" "${args[@]}" "$corpus" "${seed_dirs[@]}" >"$log" 2>&1 || status=$?
  found=$(find "$artifacts" -type f | sort)
  if [ "$status" -eq 77 ]; then
    echo "fuzz.sh: fuzz_$t SKIPPED: $(grep -m1 '^skipped:' "$log" || echo 'see the log')"
    skipped+=("$t")
  elif [ "$status" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz.sh: fuzz_$t FAILED (exit $status); the end of its log:"
    tail -n 40 "$log" | sed 's/^/    /'
    if [ -n "$found" ]; then
      echo "fuzz.sh: input(s) that fail, kept in the build folder:"
      echo "$found" | sed 's/^/    /'
    fi
    failed+=("$t")
  else
    echo "fuzz.sh: fuzz_$t ok: $(grep -m1 '^Done ' "$log" || true)" \
         "$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9/]*[A-Za-z]*' "$log" | tail -n 1)"
  fi
done

[ ${#skipped[@]} -gt 0 ] && echo "fuzz.sh: skipped: ${skipped[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: no crash, leak, timeout or memory blow-up found in ${targets[*]}"

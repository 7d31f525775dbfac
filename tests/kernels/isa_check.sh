#!/usr/bin/env bash
# The baseline build holds no AVX code outside the per-instruction-set files (src/kernels/*_avx2.cpp,
# *_avx512.cpp):
# disassembles the project's static libraries (every function, template instances included) and
# the executables (the project's own functions, xrs::; third-party static code dispatches itself),
# and fails on any function with a VEX/EVEX instruction (mnemonic v..., or a ymm/zmm register)
# whose (mangled) name is not in namespace xrs::kernels::avx*:: (those files keep everything in it, in
# anonymous namespaces, so the linker never hands an AVX copy of an inline function to baseline
# callers). It also fails when it sees no AVX code at all where AVX2 kernels are built in (a
# disassembly it cannot read would otherwise pass).
# usage: isa_check.sh OBJDUMP EXPECT_AVX(0|1) --libs LIB... --exes EXE...
set -euo pipefail
objdump=$1 expect_avx=$2
shift 2
scan() {  # scan FILE ONLY_XRS: prints "allowed NAME" / "bad NAME: INSTRUCTION", once per function
  # Mangled names: a function of namespace xrs::kernels::avx2 is _ZN3xrs7kernels4avx2..., with
  # its return type, template arguments and clone suffixes after that, never before.
  "$objdump" -d --no-show-raw-insn "$1" | awk -v only_xrs="$2" '
    /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn); next }
    /^ *[0-9a-f]+:\t/ {
      n = split($0, parts, "\t"); ins = parts[n]
      if (ins !~ /^v/ && ins !~ /%[yz]mm/) next
      if (fn in seen) next
      seen[fn] = 1
      if (fn ~ /^_ZN3xrs7kernels[0-9]+avx/) print "allowed " fn
      else if (only_xrs == 0 || fn ~ /^_Z[ZNK]*3xrs/) print "bad " fn ": " ins
    }'
}
mode="" allowed=0 bad=0
for arg in "$@"; do
  case "$arg" in
    --libs) mode=0 ;;
    --exes) mode=1 ;;
    *)
      [ -n "$mode" ] || { echo "usage: isa_check.sh OBJDUMP 0|1 --libs LIB... --exes EXE..." >&2; exit 2; }
      [ -f "$arg" ] || { echo "isa_check: $arg is missing" >&2; exit 2; }
      result=$(scan "$arg" "$mode")
      allowed=$((allowed + $(grep -c '^allowed ' <<<"$result" || true)))
      if grep -q '^bad ' <<<"$result"; then
        echo "isa_check: AVX code outside the per-ISA files in $arg:"
        grep '^bad ' <<<"$result" | sed 's/^bad /  /' | c++filt | cut -c1-300 | head -20
        bad=1
      fi
      ;;
  esac
done
if [ "$expect_avx" = 1 ] && [ "$allowed" = 0 ]; then
  echo "isa_check: found no AVX code in xrs::kernels::avx*:: although AVX2 kernels are built in"
  exit 1
fi
[ "$bad" = 0 ] || exit 1
echo "isa_check: AVX code only in the per-ISA kernels ($allowed functions)"

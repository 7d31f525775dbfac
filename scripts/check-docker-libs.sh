#!/usr/bin/env bash
# Checks the Dockerfile's runtime package list against the shared libraries the xray-search
# binary actually loads (ldd on this Debian 12 machine → dpkg -S → package):
#   - every package owning a directly needed library (readelf NEEDED) must be listed;
#   - every package in the full ldd closure must be listed or pulled in by a listed package
#     (apt-cache depends --recurse), or be part of the base image (libc6);
#   - listed packages that own none of the loaded libraries are reported (except the tools the
#     image installs on purpose: ca-certificates, curl).
# usage: scripts/check-docker-libs.sh [BINARY] [DOCKERFILE]    exit 0 ok, 1 mismatch, 2 usage
set -euo pipefail

bin=${1:-build/apps/xray-search}
dockerfile=${2:-Dockerfile}
for f in "$bin" "$dockerfile"; do
  [ -f "$f" ] || { echo "check-docker-libs: $f: no such file" >&2; exit 2; }
done
base_packages=(libc6)
intended_extras=(ca-certificates curl)

# The package names in the runtime stage's `apt-get install` (after "AS runtime").
mapfile -t listed < <(
  awk '/^FROM .* AS runtime/ {rt=1} rt' "$dockerfile" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    grep -E 'apt-get install' |
    sed -e 's/.*apt-get install//' -e 's/&&.*//' |
    tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
[ "${#listed[@]}" -gt 0 ] || { echo "check-docker-libs: no runtime apt-get install in $dockerfile" >&2; exit 2; }

# The Debian package that ships a library path, trying the /usr-merged spellings and the
# symlink target (Debian 12 ships libraries under both /lib and /usr/lib).
owner() {
  local path=$1 p
  for p in "$path" "/usr$path" "${path#/usr}" "$(readlink -f "$path")"; do
    if out=$(dpkg -S "$p" 2>/dev/null); then
      echo "${out%%:*}" | sed 's/,.*//' | head -n1
      return 0
    fi
  done
  out=$(dpkg -S "*/$(basename "$path")" 2>/dev/null | head -n1) || return 1
  echo "${out%%:*}"
}

declare -A lib_path
while read -r name _ path _; do
  [ -n "${path:-}" ] && [ "${path:0:1}" = / ] && lib_path[$name]=$path
done < <(ldd "$bin")

declare -A direct all
status=0
for name in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=${lib_path[$name]:-}
  if [ -z "$path" ]; then echo "check-docker-libs: $name: not found by ldd" >&2; status=1; continue; fi
  pkg=$(owner "$path") || { echo "check-docker-libs: $path: no package owns it" >&2; status=1; continue; }
  direct[$pkg]+="$name "
done
for name in "${!lib_path[@]}"; do
  pkg=$(owner "${lib_path[$name]}") || { echo "check-docker-libs: ${lib_path[$name]}: no package owns it" >&2; status=1; continue; }
  all[$pkg]+="$name "
done

is_in() { local x=$1; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

for pkg in "${!direct[@]}"; do
  if ! is_in "$pkg" "${listed[@]}" "${base_packages[@]}"; then
    echo "MISSING  $pkg (needed directly for ${direct[$pkg]% })"
    status=1
  fi
done

closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${listed[@]}" 2>/dev/null |
          grep -E '^[a-z0-9]' | sed 's/:.*//' | sort -u)
for pkg in "${!all[@]}"; do
  is_in "$pkg" "${listed[@]}" "${base_packages[@]}" && continue
  if ! grep -qx "$pkg" <<<"$closure"; then
    echo "MISSING  $pkg (for ${all[$pkg]% }; not pulled in by the listed packages)"
    status=1
  fi
done

for pkg in "${listed[@]}"; do
  is_in "$pkg" "${intended_extras[@]}" && continue
  [ -n "${all[$pkg]:-}" ] || echo "UNUSED   $pkg (listed, but owns no library the binary loads)"
done

echo "check-docker-libs: $bin loads ${#lib_path[@]} libraries from ${#all[@]} packages;" \
     "${#direct[@]} packages directly; Dockerfile lists ${#listed[@]}:" \
     "$([ $status = 0 ] && echo OK || echo MISMATCH)"
exit $status

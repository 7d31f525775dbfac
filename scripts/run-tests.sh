#!/usr/bin/env bash
# Runs every test of a configured and built tree: unit, reference (../shared fixtures), e2e and
# browser tests. Installs the browser tests' npm packages (pinned by tests/browser's lockfile)
# when they are missing. usage: scripts/run-tests.sh [BUILD_DIR] [extra ctest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true

if command -v npm >/dev/null && [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
  echo "run-tests: installing the browser tests' npm packages (npm ci)"
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -d "$root/../shared" ]; then
  echo "run-tests: NOTE: $root/../shared is absent; tests that need its fixtures and datasets" \
       "will report themselves as skipped"
fi
ctest --test-dir "$build" --output-on-failure -j "${XRS_TEST_JOBS:-2}" "$@"

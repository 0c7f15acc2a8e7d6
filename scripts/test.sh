#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors
# under AddressSanitizer and UndefinedBehaviorSanitizer, and runs ctest.
# Needs ../shared/vectors beside the checkout (as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build=${GB_BUILD_DIR:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGB_WERROR=ON -DGB_ASAN=ON -DGB_UBSAN=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"

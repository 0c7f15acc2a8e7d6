#!/usr/bin/env bash
# Builds an optimised tree (no sanitizers) and runs the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
cmake --build build-bench -j"$(nproc)" --target bench_verify bench_registry bench_eif >/dev/null
build-bench/tests/bench/bench_verify "${GB_VECTORS:-../shared/vectors}"
echo
build-bench/tests/bench/bench_registry "${GB_REGISTRY_LEAVES:-1000000}"
echo
build-bench/tests/bench/bench_eif "${GB_EIF_MIB:-1024}"

#!/usr/bin/env bash
# Installs what is missing, builds, and verifies every real Nitro
# attestation document in ../shared/vectors with `glassbox verify`, at each
# document's own timestamp (their leaf certificates live three hours).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target glassbox >/dev/null
vectors=${GB_VECTORS:-../shared/vectors}/aws-nitro
[ -d "$vectors" ] || { echo "demo: no $vectors (shared/ beside the checkout)" >&2; exit 2; }

valid=0 rejected=0
for doc in "$vectors"/*.cbor "$vectors"/derived/*.cbor; do
  name=${doc#"$vectors"/}
  if out=$(build/cli/glassbox verify --at document --allow-debug "$doc" 2>&1); then
    valid=$((valid + 1))
    printf '%-52s valid   %s\n' "$name" "$(head -n1 <<<"$out" | cut -d' ' -f2-)"
  else
    rejected=$((rejected + 1))
    printf '%-52s %s\n' "$name" "${out#glassbox verify: }"
  fi
done
echo
echo "$valid valid, $rejected rejected. Try one yourself:"
echo "  build/cli/glassbox verify --json --at document $vectors/nautilus-20250415a-prod.cbor"

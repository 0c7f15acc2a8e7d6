#!/usr/bin/env bash
# Signs a release statement with gpg and publishes it in the registry,
# through the CLI (on the machine that holds the registry) or through the
# verifier's API (from anywhere, with the write token).
#
# usage: publish-release.sh [--key UID] [--eif FILE] [--signer-key FILE]
#                           --db PATH STATEMENT
#        publish-release.sh [--key UID] [--signer-key FILE] --api URL
#                           --token-file FILE STATEMENT
#   STATEMENT          pcr-values.json (build-eif.sh writes it) or
#                      nitro-cli describe-eif JSON
#   --key UID          the gpg key to sign with (default: gpg's default key)
#   --eif FILE         CLI only: refuse unless the image has these PCRs
#   --signer-key FILE  the enclave's result key (64 hex digits, as its
#                      /health shows, or its sealed key's public key):
#                      written into STATEMENT as "signer_key" before it is
#                      signed; verifiers then refuse results signed by any
#                      other key (wrong_signer)
#   --db PATH          the registry database (glassbox registry --db)
#   --api URL          the verifier, e.g. https://glassbox.example.com
#   --token-file FILE  its bearer token (mode 0600); never on a command line
# Writes STATEMENT.asc beside it; prints the release id.
# Exit status: 0 published (or already there), 1 refused, 2 usage or I/O.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

key="" eif="" db="" api="" token="" skey=""
while [ $# -gt 0 ]; do
  case $1 in
    --key) key=$2; shift 2 ;;
    --eif) eif=$2; shift 2 ;;
    --signer-key) skey=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --api) api=${2%/}; shift 2 ;;
    --token-file) token=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "publish-release: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
stmt=$1
[ -r "$stmt" ] || { echo "publish-release: cannot read $stmt" >&2; exit 2; }
if { [ -n "$db" ] && [ -n "$api" ]; } || { [ -z "$db" ] && [ -z "$api" ]; }; then
  echo "publish-release: give --db (CLI) or --api (HTTP), not both" >&2
  exit 2
fi
if [ -n "$api" ] && [ -z "$token" ]; then
  echo "publish-release: --api needs --token-file" >&2
  exit 2
fi
if [ -n "$api" ] && [ -n "$eif" ]; then
  echo "publish-release: --eif is checked by the CLI only (use --db)" >&2
  exit 2
fi

if [ -n "$skey" ]; then
  hex=$(tr -d ' \r\n' <"$skey")
  case $hex in
    *[!0-9a-f]*|"") echo "publish-release: $skey is not 64 lower-case hex digits" >&2; exit 2 ;;
  esac
  [ ${#hex} -eq 64 ] || { echo "publish-release: $skey is not 64 lower-case hex digits" >&2; exit 2; }
  jq --arg k "$hex" '.signer_key = $k' "$stmt" >"$stmt.tmp" && mv "$stmt.tmp" "$stmt"
fi

signer=()
[ -n "$key" ] && signer=(--local-user "$key")
gpg --batch --yes --armor --detach-sign "${signer[@]}" --output "$stmt.asc" "$stmt"

if [ -n "$db" ]; then
  args=(publish "$stmt" "$stmt.asc")
  [ -n "$eif" ] && args+=(--eif "$eif")
  [ -n "$skey" ] && args+=(--signer-key "$skey")
  out=$("${GLASSBOX:-glassbox}" registry --db "$db" --json "${args[@]}") || {
    rc=$?
    echo "$out" | jq -r '"publish-release: refused: \(.code): \(.message)"' >&2 || true
    exit "$rc"
  }
  jq -r '.id' <<<"$out"
  exit 0
fi

# The token goes to curl in a header file, not in its arguments (which
# other users can read in ps).
perm=$(stat -c %a "$token")
case $perm in
  ?00) ;;
  *) echo "publish-release: $token is open to others (mode $perm); chmod 600 it" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(umask 077 && printf 'Authorization: Bearer %s\n' "$(tr -d '\r\n' <"$token")" >"$tmp/auth")
jq -n --rawfile sig "$stmt.asc" --arg stmt "$(base64 -w0 "$stmt")" \
  '{statement: $stmt, signature: $sig}' >"$tmp/body.json"
code=$(curl -sS -o "$tmp/answer.json" -w '%{http_code}' -X POST \
  -H @"$tmp/auth" -H 'Content-Type: application/json' \
  --data-binary @"$tmp/body.json" "$api/api/v1/releases") || {
  echo "publish-release: cannot reach $api" >&2
  exit 2
}
case $code in
  200|201) jq -r '.entry.release' "$tmp/answer.json" ;;
  4??) jq -r '"publish-release: refused (\(.status)): \(.reason): \(.detail)"' \
         "$tmp/answer.json" >&2; exit 1 ;;
  *) echo "publish-release: the verifier answered $code" >&2; exit 2 ;;
esac

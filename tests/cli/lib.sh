# shellcheck shell=bash
# Shared by the CLI test scripts: check() runs a command and compares its
# exit status and output with what is expected; counts go in pass and fail.
pass=0 fail=0

check() {   # check NAME WANT_STATUS PATTERN -- command...
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAIL %s: status %s (want %s), output:\n%s\n' "$name" "$status" "$want" "$out"
  fi
}

# Prints the counts; the script's exit status is whether all passed.
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# A temporary folder ($tmp) holding a GNUPGHOME of its own, removed (and its
# gpg-agent stopped) when the script exits.
with_gpg_home() {
  tmp=$(mktemp -d)
  export GNUPGHOME=$tmp/gnupg
  mkdir -m 700 "$GNUPGHOME"
  trap 'gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null; rm -rf "$tmp"' EXIT
}

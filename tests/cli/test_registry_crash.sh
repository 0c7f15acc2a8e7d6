#!/usr/bin/env bash
# Crash safety of the registry: a loop publishing releases is killed with
# SIGKILL at random moments, at least 50 times, and restarted where it left
# off. Every publish that reported success must be in the log afterwards,
# and the audit must pass. (One transaction per append: a kill loses at
# most the publish it interrupted, which was never reported.)
# usage: test_registry_crash.sh GLASSBOX
set -u
gb=$1
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
db=$tmp/reg.db
kills_wanted=50
batch=100               # statements signed at a time, before they run short
n_max=3000              # never more than this many (bounded)

gpg --batch --passphrase '' --quick-gen-key "Crash Test <crash@example.com>" \
  ed25519 sign 1y 2>/dev/null
gpg --armor --export crash@example.com > "$tmp/key.asc" 2>/dev/null
"$gb" registry --db "$db" init > /dev/null
"$gb" registry --db "$db" key add "$tmp/key.asc" > /dev/null
# Statements $n .. $n + $batch - 1, signed: made outside the runs that are
# killed, whenever fewer than a batch are left (how many a run publishes
# depends on the machine's speed).
n=0
more_statements() {
  local i
  for i in $(seq "$n" $((n + batch - 1))); do
    printf '{"version":"1.0.%d","pcrs":{"0":"%096x"},"docker_image":{"name":"crash-app"}}\n' \
      "$i" "$((i + 1))" > "$tmp/s$i.json"
    gpg --batch --yes --armor --detach-sign "$tmp/s$i.json" 2>/dev/null
  done
  n=$((n + batch))
}
more_statements

# Publishes statements from $1 on; each success is one line of ok.log,
# written by glassbox itself as it exits.
publisher() {
  for i in $(seq "$1" $((n - 1))); do
    "$gb" registry --db "$db" publish "$tmp/s$i.json" "$tmp/s$i.json.asc" \
      >> "$tmp/ok.log" 2>> "$tmp/err.log" || exit 1
  done
}

: > "$tmp/ok.log"
kills=0
while [ "$kills" -lt "$kills_wanted" ]; do
  next=$(wc -l < "$tmp/ok.log")
  if [ $((next + batch)) -gt "$n" ]; then
    if [ "$n" -ge "$n_max" ]; then
      echo "FAIL: ran out of statements after $kills kills"; fail=$((fail + 1)); break
    fi
    more_statements
  fi
  setsid bash -c "$(declare -f publisher); gb='$gb' db='$db' tmp='$tmp' n=$n publisher $next" &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 250)))"
  kill -KILL -- "-$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
done
reported=$(grep -cE '^(published|already there)' "$tmp/ok.log")
check kills 0 "^$kills_wanted\$" -- echo "$kills"
check some-reported 0 '^[1-9]' -- echo "$reported"
missing=0
while read -r line; do
  id=$(sed -n 's/.*release \([0-9a-f]\{16\}\).*/\1/p' <<<"$line")
  if [ -z "$id" ] || ! "$gb" registry --db "$db" show "$id" > /dev/null 2>&1; then
    missing=$((missing + 1)); echo "lost: $line"
  fi
done < "$tmp/ok.log"
check none-lost 0 '^0$' -- echo "$missing"
check audit 0 'audit passed' -- "$gb" registry --db "$db" audit
check no-errors 0 '' -- sh -c "if [ -s '$tmp/err.log' ]; then cat '$tmp/err.log'; exit 1; fi"
echo "($kills kills, $reported publishes reported)"
finish

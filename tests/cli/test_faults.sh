#!/usr/bin/env bash
# Faults are reported as what they are and leave nothing half-made.
#
# 1. A full disk: the registry lives on a small tmpfs, which is filled to
#    leave 0, 4, 8, 16, ... KiB before each write command (init, key add,
#    publish, revoke, key revoke), so the command runs out of space at a
#    different point each time, until it has room to succeed. Every failure
#    must be io_error with exit 2 (never a refusal blamed on the input), and
#    must leave the registry as it was: the same latest checkpoint, and an
#    audit that passes once space is freed. The verifier's verdict key on a
#    full disk: no start, and no file left.
# 2. SIGKILL at random moments of init, key add and the verifier's start
#    (when it makes its verdict key): afterwards a retried init works (or
#    finds the registry it had completed), the registry audits clean, no
#    temporary is left, the verdict key is absent or whole, and the verifier
#    starts.
#
# The tmpfs needs mount(2) (the tests run as root); where it is not
# permitted, part 1 is skipped with a message and part 2 still runs.
# usage: test_faults.sh GLASSBOX GLASSBOX-VERIFIER
set -u
gb=$1 vf=$2
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
mnt=$tmp/mnt
kills_wanted=25         # SIGKILLs per command
max_free_kib=2048       # the free-space ladder stops here (bounded)

gpg --batch --passphrase '' --quick-gen-key "Fault Test <fault@example.com>" \
  ed25519 sign 1y 2>/dev/null
gpg --armor --export fault@example.com > "$tmp/key.asc" 2>/dev/null
fpr=$(gpg --with-colons --fingerprint fault@example.com | awk -F: '/^fpr/ {print $10; exit}')
statement() {   # statement FILE VERSION PCR0-BYTE
  printf '{"version":"%s","pcrs":{"0":"%s"},"docker_image":{"name":"fault-app"}}\n' \
    "$2" "$(printf "%0.s$3" $(seq 48))" > "$1"
  gpg --batch --yes --armor --detach-sign "$1" 2>/dev/null
}
statement "$tmp/pub.json" 1.0.0 a1
printf '{"action":"revoke","origin":"faults.glassbox.test/log","pcr0":"%s","reason":"test"}\n' \
  "$(printf '%0.sa1' $(seq 48))" > "$tmp/rev.json"
gpg --batch --yes --armor --detach-sign "$tmp/rev.json" 2>/dev/null

cleanup_mount() { mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"; }
trap 'cleanup_mount; gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- 1. A full disk -------------------------------------------------------

# fill KIB: leaves about KIB KiB free on the tmpfs (in whole pages).
fill() {
  rm -f "$mnt/fill"
  dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
  [ "$1" -gt 0 ] && truncate -s "-$(($1 * 1024))" "$mnt/fill"
  sync
}
unfill() { rm -f "$mnt/fill"; }

# full_disk NAME WANT_OK_PATTERN -- command...: runs the command with
# 0, 4, 8, ... KiB free until it succeeds. Each failure must be io_error,
# exit 2, with the registry unchanged and auditing clean after space is
# freed; then the command must succeed with space.
full_disk() {
  local name=$1 okpat=$2; shift 3
  local kib=0 out status before after tries=0 bad=0
  before=$("$gb" registry --db "$mnt/reg.db" checkpoint 2>&1)
  while [ "$kib" -le "$max_free_kib" ]; do
    fill "$kib"
    out=$("$@" 2>&1); status=$?
    unfill
    [ "$status" -eq 0 ] && break
    tries=$((tries + 1))
    if [ "$status" -ne 2 ] || ! grep -q 'io_error' <<<"$out"; then
      bad=$((bad + 1)); echo "FAIL $name: with $kib KiB free: status $status: $out"
    fi
    after=$("$gb" registry --db "$mnt/reg.db" checkpoint 2>&1)
    if [ "$after" != "$before" ]; then
      bad=$((bad + 1)); echo "FAIL $name: with $kib KiB free the log changed"
    fi
    if ! "$gb" registry --db "$mnt/reg.db" audit > "$tmp/audit.out" 2>&1; then
      bad=$((bad + 1)); echo "FAIL $name: with $kib KiB free, then audit:"; cat "$tmp/audit.out"
    fi
    kib=$((kib == 0 ? 4 : kib * 2))
  done
  check "$name-failed-at-least-once" 0 '^[1-9]' -- echo "$tries"
  check "$name-io-error-and-unchanged" 0 '^0$' -- echo "$bad"
  if [ "$status" -ne 0 ]; then
    check "$name-with-room" 0 "$okpat" -- "$@"
  else
    check "$name-with-room" 0 "$okpat" -- echo "$out"
  fi
  echo "($name: $tries failures with a full disk)"
}

mkdir -p "$mnt"
if ! mount -t tmpfs -o size=8m,mode=0700 tmpfs "$mnt" 2>"$tmp/mount.err"; then
  echo "SKIP the full-disk part: cannot mount a tmpfs ($(cat "$tmp/mount.err"));" \
    "it needs root (or CAP_SYS_ADMIN) and so would a loop-mounted image"
else
  # init: each failure leaves no file at all.
  bad=0 kib=0
  while [ "$kib" -le "$max_free_kib" ]; do
    fill "$kib"
    out=$("$gb" registry --db "$mnt/reg.db" init --origin faults.glassbox.test/log 2>&1); status=$?
    unfill
    [ "$status" -eq 0 ] && break
    if [ "$status" -ne 2 ] || ! grep -q 'io_error' <<<"$out"; then
      bad=$((bad + 1)); echo "FAIL init with $kib KiB free: status $status: $out"
    fi
    left=$(cd "$mnt" && ls -A)
    if [ -n "$left" ]; then
      bad=$((bad + 1)); echo "FAIL init with $kib KiB free left: $left"; (cd "$mnt" && rm -rf -- reg.db*)
    fi
    kib=$((kib == 0 ? 4 : kib * 2))
  done
  check init-full-disk 0 '^0$' -- echo "$bad"
  check init-with-room 0 '^0$' -- echo "$status"
  check init-made 0 'audit passed: 0 entries' -- "$gb" registry --db "$mnt/reg.db" audit

  full_disk key-add 'key added: entry 0' -- "$gb" registry --db "$mnt/reg.db" key add "$tmp/key.asc"
  full_disk publish 'published: entry 1' -- \
    "$gb" registry --db "$mnt/reg.db" publish "$tmp/pub.json" "$tmp/pub.json.asc"
  full_disk revoke 'revoked: entry 2' -- \
    "$gb" registry --db "$mnt/reg.db" revoke "$tmp/rev.json" "$tmp/rev.json.asc"
  full_disk key-revoke 'key revoked: entry 3' -- \
    "$gb" registry --db "$mnt/reg.db" key revoke "$fpr" --reason "disk test"
  check full-disk-audit 0 'audit passed: 4 entries' -- "$gb" registry --db "$mnt/reg.db" audit

  # The audit builds its fresh keyring under /tmp: a full /tmp is the
  # machine's fault (io_error or gpg_error, exit 2), never blamed on the log
  # (audit_failed). /tmp is filled in a private mount namespace, where the
  # registry is reached through a bind mount on /mnt.
  if [ -d /mnt ] && unshare -m true 2>/dev/null; then
    bad=0 kib=0 tries=0
    while [ "$kib" -le "$max_free_kib" ]; do
      # shellcheck disable=SC2016 # expanded by the inner bash
      # The program is opened before /tmp is covered (the checkout, and so
      # the build, may itself live under /tmp) and run through its fd.
      out=$(unshare -m bash -c '
        exec 3<"$3" && mount --bind "$1" /mnt &&
          mount -t tmpfs -o size=4m tmpfs /tmp || exit 99
        dd if=/dev/zero of=/tmp/fill bs=4k 2>/dev/null
        [ "$2" -gt 0 ] && truncate -s "-$(($2 * 1024))" /tmp/fill
        /proc/self/fd/3 registry --db /mnt/reg.db audit' _ "$mnt" "$kib" "$gb" 2>&1); status=$?
      [ "$status" -eq 0 ] && break
      tries=$((tries + 1))
      if [ "$status" -ne 2 ] || ! grep -qE 'io_error|gpg_error' <<<"$out"; then
        bad=$((bad + 1)); echo "FAIL audit with $kib KiB free in /tmp: status $status: $out"
      fi
      kib=$((kib == 0 ? 4 : kib * 2))
    done
    check audit-full-tmp-failed 0 '^[1-9]' -- echo "$tries"
    check audit-full-tmp 0 '^0$' -- echo "$bad"
    check audit-full-tmp-passes-with-room 0 '^0$' -- echo "$status"
  else
    echo "SKIP audit with a full /tmp: no /mnt or no unshare -m"
  fi

  # The verifier cannot make its verdict key on a full disk: it says so,
  # does not start, and leaves no file.
  fill 0
  check verdict-key-full 2 "cannot create $mnt/vk: No space left on device" -- \
    timeout 20 "$vf" --db "$mnt/reg.db" --listen 127.0.0.1:0 --audit-interval 0 --verdict-key "$mnt/vk"
  unfill
  check verdict-key-full-nothing-left 0 '^$' -- sh -c "cd '$mnt' && ls -A | grep -v '^reg\.db' || true"
  cleanup_mount
fi

# ---- 2. SIGKILL at random moments ----------------------------------------

# killed_at_random DIR COMMAND...: runs the command in the background and
# kills it with SIGKILL after 0..59 ms (init takes about 35 ms here, key
# add about as long: the kills land all over them, and a few after).
killed_at_random() {
  "$@" > /dev/null 2>&1 &
  local pid=$!
  sleep "0.0$(printf '%02d' $((RANDOM % 60)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# Leftovers: nothing but the registry's own files may remain.
strays() {
  local f
  for f in "$1"/* "$1"/.[!.]*; do
    [ -e "$f" ] || continue
    case ${f##*/} in k.db | k.db.key | k.db.gnupg | k.db-wal | k.db-shm) ;; *) echo "${f##*/}" ;; esac
  done
}

bad=0 done_before_kill=0
mkdir "$tmp/ki"
for i in $(seq "$kills_wanted"); do
  d=$tmp/ki/$i; mkdir "$d"
  killed_at_random "$gb" registry --db "$d/k.db" init --origin faults.glassbox.test/log
  out=$("$gb" registry --db "$d/k.db" init --origin faults.glassbox.test/log 2>&1); status=$?
  if [ "$status" -eq 1 ] && grep -q 'exists: .*k.db already exists' <<<"$out"; then
    done_before_kill=$((done_before_kill + 1))
  elif [ "$status" -ne 0 ]; then
    bad=$((bad + 1)); echo "FAIL init retried after kill $i: $out"
  fi
  if ! "$gb" registry --db "$d/k.db" audit > "$tmp/audit.out" 2>&1; then
    bad=$((bad + 1)); echo "FAIL audit after killed init $i:"; cat "$tmp/audit.out"
  fi
  s=$(strays "$d")
  if [ -n "$s" ]; then bad=$((bad + 1)); echo "FAIL killed init $i left: $s"; fi
done
check init-killed 0 '^0$' -- echo "$bad"
echo "(init: $kills_wanted kills, $done_before_kill had finished first)"

# An init killed before this change could leave PATH.key without PATH:
# refused with a clear message rather than half-adopted.
mkdir "$tmp/orphan"; : > "$tmp/orphan/k.db.key"
check init-orphan-key 1 'exists: .*k.db.key or .*k.db.gnupg exists without its database' -- \
  "$gb" registry --db "$tmp/orphan/k.db" init

# key add: the same key again, killed at random, then once more for real.
"$gb" registry --db "$tmp/ka.db" init --origin faults.glassbox.test/log > /dev/null
bad=0
for i in $(seq "$kills_wanted"); do
  killed_at_random "$gb" registry --db "$tmp/ka.db" key add "$tmp/key.asc"
  out=$("$gb" registry --db "$tmp/ka.db" key add "$tmp/key.asc" 2>&1) ||
    { bad=$((bad + 1)); echo "FAIL key add after kill $i: $out"; }
  if ! "$gb" registry --db "$tmp/ka.db" audit > "$tmp/audit.out" 2>&1; then
    bad=$((bad + 1)); echo "FAIL audit after killed key add $i:"; cat "$tmp/audit.out"
  fi
  # A fresh key each round, so that most kills hit a real import.
  gpg --batch --passphrase '' --quick-gen-key "Round $i <r$i@example.com>" ed25519 sign 1y 2>/dev/null
  gpg --armor --export "r$i@example.com" > "$tmp/key.asc" 2>/dev/null
done
check key-add-killed 0 '^0$' -- echo "$bad"
check key-add-killed-log 0 "^$kills_wanted\$" -- sh -c \
  "'$gb' registry --db '$tmp/ka.db' key list | wc -l"

# The verifier's start, while it makes its verdict key: afterwards the key
# file is absent or whole (64 hex digits), and the verifier starts.
bad=0 made=0
for i in $(seq "$kills_wanted"); do
  vk=$tmp/vk$i
  killed_at_random "$vf" --db "$tmp/ka.db" --listen 127.0.0.1:0 --audit-interval 0 --verdict-key "$vk"
  if [ -e "$vk" ]; then
    made=$((made + 1))
    grep -qxE '[0-9a-f]{64}' "$vk" || { bad=$((bad + 1)); echo "FAIL verdict key $i is not whole: $(od -c "$vk" | head -2)"; }
  fi
  # Files of its own: the shell may poll before the child has created
  # its output file, and must not read the previous round's.
  "$vf" --db "$tmp/ka.db" --listen 127.0.0.1:0 --audit-interval 0 --verdict-key "$vk" > "$tmp/vf$i.out" 2> "$tmp/vf$i.err" &
  pid=$!
  url=
  for _ in $(seq 100); do        # up to 10 s
    url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/vf$i.out" 2>/dev/null | head -1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ] || ! curl -fsS "$url/healthz" > /dev/null; then
    bad=$((bad + 1)); echo "FAIL verifier $i did not start:"; cat "$tmp/vf$i.out" "$tmp/vf$i.err"
  fi
  # Its start is what is tested: SIGKILL spares mg_stop()'s wait.
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  for f in "$vk".tmp*; do
    [ -e "$f" ] && { bad=$((bad + 1)); echo "FAIL verdict key $i left a temporary: $f"; }
  done
done
check verifier-killed 0 '^0$' -- echo "$bad"
echo "(verifier: $kills_wanted kills, the key existed after $made)"

finish

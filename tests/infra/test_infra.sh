#!/usr/bin/env bash
# infra/, tested as far as a machine without AWS, docker or terraform
# allows:
#   - shellcheck on every shell script of the project (and the user data
#     deploy-aws.sh rendered);
#   - systemd-analyze verify on every unit (and that it catches a typo);
#   - nginx -t on the nginx config with a test certificate, then nginx
#     running it on 127.0.0.1 in front of a real glassbox-verifier;
#   - infra/terraform parsed to JSON and checked (check_terraform.mjs);
#   - deploy-aws.sh against moto_server (on 127.0.0.1, over TLS), every
#     resource checked with the AWS CLI, the KMS policy read back;
#   - run-enclave.sh and build-eif.sh with a stand-in nitro-cli (and
#     docker, for --kms-key);
#   - parent-config.sh's configuration run by glassbox-parent: the
#     enclave's way out to the region's KMS endpoint, allowlisted;
#   - publish-release.sh through the CLI and through the verifier's API;
#   - the replicated form's systemd units, and sync-tiles.sh against
#     moto_server's S3: after every change, and with a change landing in
#     the middle of a sync, no published checkpoint lacks its tiles (an
#     independent reader, tiles_reader.py, checks S3 after every AWS CLI
#     call), each kind with its Cache-Control, rollbacks and forks refused.
#
# usage: test_infra.sh GLASSBOX VERIFIER PARENT TILES_FILL
# Single quotes around jq programs and templates are meant:
# shellcheck disable=SC2016
set -uo pipefail
gb=$(readlink -f "$1")
verifier=$(readlink -f "$2")
parent=$(readlink -f "$3")
tiles_fill=$(readlink -f "$4")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/cli/lib.sh
. "$repo/tests/cli/lib.sh"
with_gpg_home
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2
export GLASSBOX=$gb

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded: 15 s) until a TCP port on 127.0.0.1 accepts.
wait_port() {
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- a registry with a release, signed with a key made here ----------------
gpg --batch --passphrase '' --quick-gen-key 'Release Manager <rm@example.com>' \
  ed25519 sign 1y 2>/dev/null
gpg --batch --armor --export rm@example.com >rm.asc
"$gb" registry --db reg.db init --origin infra.glassbox.test/log >/dev/null
"$gb" registry --db reg.db key add rm.asc >/dev/null
pcr() { printf '%096d' 0 | tr 0 "$1"; }
printf '{"name":"app","version":"1.0","pcrs":{"0":"%s","1":"%s","2":"%s","8":"%s"}}' \
  "$(pcr a)" "$(pcr b)" "$(pcr c)" "$(pcr 8)" >app-1.0.json
check "publish-release.sh through the CLI" 0 '^[0-9a-f]{16}$' -- \
  "$repo/infra/scripts/publish-release.sh" --key rm@example.com --db reg.db app-1.0.json
release=$("$gb" registry --db reg.db --json list | jq -r '.[0].id')
printf '{"name":"app","version":"0.9","pcrs":{"0":"%s","1":"%s","2":"%s"}}' \
  "$(pcr d)" "$(pcr e)" "$(pcr f)" >app-0.9.json
"$repo/infra/scripts/publish-release.sh" --db reg.db app-0.9.json >/dev/null
old=$("$gb" registry --db reg.db --json list | jq -r '.[1].id')
printf '{"action":"revoke","origin":"infra.glassbox.test/log","pcr0":"%s","reason":"old"}' "$(pcr d)" >revoke.json
gpg --batch --armor --detach-sign revoke.json
"$gb" registry --db reg.db revoke revoke.json revoke.json.asc >/dev/null

# --- shellcheck -------------------------------------------------------------
(cd "$repo" && find scripts infra tests -name node_modules -prune -o -name '*.sh' -print) |
  sort >scripts.txt
check "there are scripts to check" 0 'deploy-aws.sh' -- cat scripts.txt
check "shellcheck: every script" 0 '' -- \
  bash -c 'cd "$1" && shellcheck -x -P SCRIPTDIR $(cat "$2")' _ "$repo" "$tmp/scripts.txt"

# --- systemd units ----------------------------------------------------------
mkdir units
printf '#!/bin/sh\n' >units/nitro-cli
chmod +x units/nitro-cli
printf '[Unit]\nDescription=stand-in for the aws-nitro-enclaves-cli unit\n[Service]\nType=oneshot\nExecStart=/bin/true\n' \
  >units/nitro-enclaves-allocator.service
# The programs at their build paths; everything else as installed.
for u in "$repo"/infra/systemd/*.service "$repo"/infra/systemd/*.path "$repo"/infra/systemd/*.timer; do
  # A template unit is verified as one of its instances.
  sed -e "s|/usr/local/bin/glassbox-verifier|$verifier|" \
    -e "s|/usr/local/bin/glassbox-parent|$gb|" \
    -e "s|/usr/local/share/glassbox/scripts/|$repo/infra/scripts/|" \
    -e "s|/usr/bin/nitro-cli|$tmp/units/nitro-cli|" "$u" >"units/$(basename "$u" | sed 's/@\./@parent./')"
done
check "the log copier is a template, verified as glassbox-logs@parent" 0 "glassbox-logs@parent.service" -- ls units
for u in units/glassbox-*.service; do
  check "systemd-analyze verify $(basename "$u")" 0 '^$' -- systemd-analyze verify "$u"
  for d in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes User=glassbox \
      CapabilityBoundingSet= ProtectHome=yes; do
    check "$(basename "$u"): $d" 0 . -- grep -x "$d" "$u"
  done
done
for u in units/*.path units/*.timer; do
  check "systemd-analyze verify $(basename "$u")" 0 '^$' -- systemd-analyze verify "$u"
done
check "the tiles sync runs on a change of the checkpoint" 0 '^PathChanged=/var/lib/glassbox/tiles/checkpoint$' -- \
  grep '^PathChanged=' units/glassbox-tiles-sync.path
check "... and every minute" 0 '^OnUnitInactiveSec=1min$' -- grep '^OnUnitInactiveSec=' units/glassbox-tiles-sync.timer
check "... the script, with the directory and the bucket" 0 \
  '^ExecStart=.*/sync-tiles.sh \$\{GLASSBOX_TILES_DIR\} \$\{GLASSBOX_TILES_DEST\}$' -- \
  grep '^ExecStart=' units/glassbox-tiles-sync.service
check "enable-tiles-sync.sh enables the path unit and the timer" 0 \
  'enable --now glassbox-tiles-sync.path glassbox-tiles-sync.timer' -- cat "$repo/infra/scripts/enable-tiles-sync.sh"
sed 's/^ProtectSystem=strict/ProtectSystm=strict/' units/glassbox-verifier.service >units/typo.service
check "systemd-analyze catches a typo" 0 "Unknown key 'ProtectSystm'" -- systemd-analyze verify units/typo.service
check "the log copier follows its daemon's unit, from the journal's end" 0 \
  '^ExecStart=/usr/bin/journalctl --follow --lines=0 --output=cat --unit=glassbox-%i.service$' -- \
  grep '^ExecStart=' "$repo/infra/systemd/glassbox-logs@.service"
check "... into the file the CloudWatch agent tails" 0 '^StandardOutput=append:/var/log/glassbox/%i.log$' -- \
  grep '^StandardOutput=' "$repo/infra/systemd/glassbox-logs@.service"
check "... started before its daemon" 0 '^Before=glassbox-%i.service$' -- \
  grep '^Before=' "$repo/infra/systemd/glassbox-logs@.service"
check "setup-parent.sh enables a copier for each daemon" 0 \
  'glassbox-logs@parent.service glassbox-logs@verifier.service glassbox-logs@enclave.service' -- \
  grep 'systemctl restart glassbox-logs@' "$repo/infra/scripts/setup-parent.sh"
# logrotate: the configuration parses, and a run rotates a file by copying
# and truncating it (the copier keeps appending to the same file).
mkdir -p rot/var/log/glassbox
sed "s|/var/log/glassbox/|$tmp/rot/var/log/glassbox/|" "$repo/infra/logrotate/glassbox" >rot/glassbox.conf
exec 7>>rot/var/log/glassbox/parent.log
echo '{"event":"started"}' >&7
check "logrotate: the configuration parses" 0 'rotating pattern' -- logrotate -d -s rot/state rot/glassbox.conf
check "logrotate: a forced run rotates" 0 '' -- logrotate -f -s rot/state rot/glassbox.conf
echo '{"event":"after"}' >&7
exec 7>&-
check "logrotate: the old lines moved" 0 '^\{"event":"started"\}$' -- cat rot/var/log/glassbox/parent.log.1
check "logrotate: the copier's open file goes on, from the start" 0 '^\{"event":"after"\}$' -- \
  cat rot/var/log/glassbox/parent.log

# --- nginx ------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout tls.key -out tls.crt 2>/dev/null
mkdir -p nginx/logs
vport=$(free_port)
https=$(free_port)
http=$(free_port)
sed -e "s|/etc/glassbox/tls/fullchain.pem|$tmp/tls.crt|; s|/etc/glassbox/tls/privkey.pem|$tmp/tls.key|" \
  -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$vport;|" \
  -e "s|listen 443 ssl http2;|listen 127.0.0.1:$https ssl http2;|; /listen \[::\]/d" \
  -e "s|listen 80;|listen 127.0.0.1:$http;|; s|/var/www/acme|$tmp/nginx|" \
  "$repo/infra/nginx/glassbox.conf" >nginx/site.conf
printf 'pid %s/nginx/nginx.pid;\nerror_log %s/nginx/logs/error.log;\nevents {}\nhttp {\n  access_log off;\n  include %s/nginx/site.conf;\n}\n' \
  "$tmp" "$tmp" "$tmp" >nginx/nginx.conf
check "nginx -t" 0 'test is successful' -- nginx -t -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log"
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" -g 'daemon off;' &
pids+=($!)
"$verifier" --db reg.db --listen "127.0.0.1:$vport" --audit-interval 0 >/dev/null 2>verifier.log &
pids+=($!)
wait_port "$https" && wait_port "$vport"
curl_tls() { curl -sS --cacert tls.crt "$@"; }
check "TLS to the verifier" 0 '"status":"ready"' -- curl_tls "https://127.0.0.1:$https/readyz"
check "HSTS" 0 '^strict-transport-security: max-age=63072000' -- curl_tls -D - -o /dev/null "https://127.0.0.1:$https/"
check "the page's CSP passes through" 0 "^content-security-policy: default-src 'none'" -- \
  curl_tls -D - -o /dev/null "https://127.0.0.1:$https/"
check "nosniff once" 0 '^1$' -- bash -c "curl -sS --cacert tls.crt -D - -o /dev/null https://127.0.0.1:$https/ | grep -ci '^x-content-type-options'"
check "no server version" 0 '^server: nginx\s*$' -- curl_tls -D - -o /dev/null "https://127.0.0.1:$https/"
check "HTTP redirects to HTTPS" 0 '^HTTP/1.1 301' -- curl -sS -D - -o /dev/null "http://127.0.0.1:$http/x"
head -c 70000 /dev/zero >big
check "bodies over 64 KiB stop at nginx" 0 '^413$' -- curl_tls -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary @big "https://127.0.0.1:$https/api/v1/verify"
check "... as problem+json too_large" 0 '"reason":"too_large"' -- curl_tls \
  -H 'Content-Type: application/json' --data-binary @big "https://127.0.0.1:$https/api/v1/verify"
check "nginx's body limit is the verifier's (65536 bytes)" 0 '^    client_max_body_size 64k;' -- \
  grep -E '^    client_max_body_size' "$repo/infra/nginx/glassbox.conf"
check "... and a body of exactly 65536 bytes passes nginx" 0 '^(200|400|415)$' -- bash -c \
  "head -c 65536 /dev/zero >edge-64k && curl -sS --cacert tls.crt -o /dev/null -w '%{http_code}' \
   -H 'Content-Type: application/json' --data-binary @edge-64k https://127.0.0.1:$https/api/v1/verify"

# The edge's limits, with real bursts. A burst is one curl process sending
# its requests back to back over a few connections, so it goes far faster
# than the refill rates (5/s for challenges, 1/s for writes): the first ones
# pass, then 429s. The error log names the zone that refused.
burst() {   # burst N METHOD PATH [JSON]: one status code per line
  local i body=()
  for ((i = 0; i < $1; i++)); do
    printf 'url = "https://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$https" "$3"
  done >burst.cfg
  [ $# -ge 4 ] && body=(-H 'Content-Type: application/json' -d "$4")
  curl -sS --cacert tls.crt -Z --parallel-max 4 -X "$2" "${body[@]}" \
    -w '%{http_code}\n' -K burst.cfg 2>burst.err
}
burst 100 POST /api/v1/challenge >challenge-burst.txt
check "a challenge burst: the first ones get nonces" 0 '^200$' -- cat challenge-burst.txt
check "a challenge burst: then 429" 0 '^429$' -- cat challenge-burst.txt
check "... refused by the challenge zone" 0 'limiting requests.*zone "glassbox_challenge"' -- \
  cat nginx/logs/error.log
curl_tls -D - -X POST "https://127.0.0.1:$https/api/v1/challenge" | tr -d '\r' >limited.txt
check "a 429 at the edge" 0 '^HTTP/2 429' -- cat limited.txt
check "... says when to retry" 0 '^retry-after: 1$' -- cat limited.txt
check "... as problem+json" 0 '^content-type: application/problem\+json$' -- cat limited.txt
check "... named rate_limited" 0 '"reason":"rate_limited"' -- cat limited.txt
check "... with the security headers" 0 '^strict-transport-security: max-age' -- cat limited.txt
check "a 200 has no Retry-After" 1 '' -- bash -c "curl -sS --cacert tls.crt -D - -o /dev/null \
  https://127.0.0.1:$https/healthz | grep -i '^retry-after'"
check "after the challenge burst, other paths pass: /healthz" 0 '^200$' -- \
  curl_tls -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https/healthz"
check "... the page" 0 '^200$' -- curl_tls -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https/"
check "... POST /api/v1/verify answers (not 429)" 0 '^(200|400)$' -- curl_tls -o /dev/null \
  -w '%{http_code}' -H 'Content-Type: application/json' -d '{"document":"AA=="}' \
  "https://127.0.0.1:$https/api/v1/verify"
burst 30 POST /api/v1/releases '{}' >write-burst.txt
check "a write burst: the first ones reach the verifier (401: no token)" 0 '^401$' -- cat write-burst.txt
check "a write burst: then 429" 0 '^429$' -- cat write-burst.txt
check "... refused by the writes zone" 0 'limiting requests.*zone "glassbox_writes"' -- \
  cat nginx/logs/error.log
check "after the write burst, reading releases passes" 0 '^200$' -- \
  curl_tls -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https/api/v1/releases"
# Slow bodies: 20 held requests (each sent its head and 1 byte of 60000)
# fill this address's connection limit, so the 21st request is a 429 ...
verify_count() {   # POST /api/v1/verify requests the verifier has answered
  curl -sS "http://127.0.0.1:$vport/metrics" |
    awk '/^glassbox_requests_total\{route="verify"/ { n += $2 } END { print n + 0 }'
}
verifies=$(verify_count)
check "20 slow bodies held: the next request is refused (limit_conn)" 0 '^429$' -- \
  python3 "$here/edge_hold.py" "$https" tls.crt 20 -- \
  curl -sS --cacert tls.crt -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https/healthz"
check "... refused by the connection zone" 0 'limiting connections.*zone "glassbox_conn"' -- \
  cat nginx/logs/error.log
# ... and they wait on nginx, never on the verifier: with 19 held (more than
# its 4 workers), the verifier itself still answers, and through nginx too.
check "19 slow bodies held at nginx: the verifier's workers stay free" 0 '^200$' -- \
  python3 "$here/edge_hold.py" "$https" tls.crt 19 -- \
  curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$vport/healthz"
check "19 slow bodies held: /healthz through nginx" 0 '^200$' -- \
  python3 "$here/edge_hold.py" "$https" tls.crt 19 -- \
  curl -sS --max-time 20 --cacert tls.crt -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https/healthz"
# Once their senders hung up, not one of those 58 bodies reached the
# verifier (without request buffering, each would have been a request there,
# cut short). The wait is bounded: 3 s for a count that must not move.
for _ in $(seq 30); do
  [ "$(verify_count)" != "$verifies" ] && break
  sleep 0.1
done
check "no slow body ever reached the verifier" 0 "^$verifies\$" -- verify_count

# --- publish-release.sh through the API ------------------------------------
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()
(umask 077 && head -c 24 /dev/urandom | base64 >token)
"$verifier" --db reg.db --listen "127.0.0.1:$vport" --token-file token --audit-interval 0 \
  >/dev/null 2>verifier.log &
pids+=($!)
wait_port "$vport"
printf '{"name":"app","version":"1.1","pcrs":{"0":"%s","1":"%s","2":"%s"}}' \
  "$(pcr 1)" "$(pcr 2)" "$(pcr 3)" >app-1.1.json
check "publish-release.sh through the API" 0 '^[0-9a-f]{16}$' -- \
  "$repo/infra/scripts/publish-release.sh" --api "http://127.0.0.1:$vport" --token-file token app-1.1.json
check "the token is not in the verifier's log" 1 '' -- grep -F "$(cat token)" verifier.log
check "publish-release.sh: a wrong token is refused" 1 'refused \(401\): unauthorized' -- \
  bash -c "echo wrong-token-wrong-token >t2 && chmod 600 t2 && '$repo/infra/scripts/publish-release.sh' --api http://127.0.0.1:$vport --token-file t2 app-1.1.json"
chmod 644 token
check "publish-release.sh: an open token file is refused" 2 'open to others' -- \
  "$repo/infra/scripts/publish-release.sh" --api "http://127.0.0.1:$vport" --token-file token app-1.1.json
chmod 600 token
check "publish-release.sh: --db or --api" 2 'not both' -- \
  "$repo/infra/scripts/publish-release.sh" app-1.1.json
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()

# --- glassbox kms-policy and the Terraform files ----------------------------
role=arn:aws:iam::123456789012:role/glassbox-instance
new=$("$gb" registry --db reg.db --json list | jq -r '.[] | select(.version == "1.1") | .id')
"$gb" kms-policy --db reg.db --release "$release" --tfvars >release.auto.tfvars.json
"$gb" kms-policy --db reg.db --release "$release" --role-arn "$role" >key-policy.json
check "kms-policy: PCR0/1/2/8 of the release" 0 '^4$' -- \
  jq '.Statement[1].Condition.StringEqualsIgnoreCase | length' key-policy.json
check "kms-policy: Decrypt and GenerateDataKey, nothing else" 0 '^\["kms:Decrypt","kms:GenerateDataKey"\]$' -- \
  jq -c '.Statement[1].Action' key-policy.json
check "kms-policy: a revoked release is refused" 1 'revoked' -- \
  "$gb" kms-policy --db reg.db --release "$old" --role-arn arn:aws:iam::123456789012:role/x
check "kms-policy: not a role ARN" 2 'not an IAM role ARN' -- \
  "$gb" kms-policy --db reg.db --release "$release" --role-arn arn:aws:iam::123456789012:user/x
check "terraform: parsed and checked" 0 ' 0 failed$' -- \
  node "$here/check_terraform.mjs" "$repo/infra/terraform" release.auto.tfvars.json key-policy.json

# The rollover window: the old and the new release side by side, one
# statement each, so that either whole PCR set is admitted and no mix.
"$gb" kms-policy --db reg.db --release "$new" --release "$release" --role-arn "$role" >rollover.json
"$gb" kms-policy --db reg.db --release "$release" --release "$new" --tfvars >rollover.auto.tfvars.json
check "rollover: one statement per release, in release id order" 0 '^true$' -- \
  jq --arg a "$release" --arg b "$new" '[.Statement[1:][].Sid] ==
    ([$a, $b] | sort | map("EnclaveRelease" + .))' rollover.json
check "rollover: the tfvars name both releases" 0 '^2$' -- jq '.enclave_releases | length' rollover.auto.tfvars.json
check "rollover: passes the back-door checks with 2 releases" 0 ' 0 failed$' -- \
  node "$here/kms_policy.mjs" rollover.json 2
check "rollover: Terraform renders the same two statements" 0 ' 0 failed$' -- \
  node "$here/check_terraform.mjs" "$repo/infra/terraform" rollover.auto.tfvars.json rollover.json
pcrs_of() { jq -c --arg v "$1" '.pcrs' "app-$1.json"; }
admits() { node "$here/kms_policy.mjs" --admits "$1" "$role" "$2" "$3"; }
check "rollover: the old release's PCRs may decrypt" 0 '^allow$' -- admits rollover.json kms:Decrypt "$(pcrs_of 1.0)"
check "rollover: the new release's PCRs may decrypt" 0 '^allow$' -- admits rollover.json kms:Decrypt "$(pcrs_of 1.1)"
check "rollover: ... and make data keys" 0 '^allow$' -- admits rollover.json kms:GenerateDataKey "$(pcrs_of 1.1)"
mix=$(jq -nc --argjson a "$(pcrs_of 1.0)" --argjson b "$(pcrs_of 1.1)" '{"0": $a["0"], "1": $b["1"], "2": $b["2"], "8": $a["8"]}')
check "rollover: a mix of the two releases' PCRs may not" 0 '^deny$' -- admits rollover.json kms:Decrypt "$mix"
check "rollover: no Recipient (no PCRs), no decrypt" 0 '^deny$' -- admits rollover.json kms:Decrypt none
check "rollover: the revoked release's PCRs may not" 0 '^deny$' -- admits rollover.json kms:Decrypt "$(pcrs_of 0.9)"
check "rollover: another role may not" 0 '^deny$' -- node "$here/kms_policy.mjs" --admits rollover.json \
  arn:aws:iam::123456789012:role/other kms:Decrypt "$(pcrs_of 1.1)"
# One statement listing both releases' values per key would admit the mix
# (IAM ORs a key's values): the evaluator says so, and the checks refuse it.
jq '.Statement = [.Statement[0], (.Statement[1] | .Condition.StringEqualsIgnoreCase |=
      with_entries(.value = [.value]))] |
    .Statement[1].Condition.StringEqualsIgnoreCase |= (reduce (input.Statement[2].Condition.StringEqualsIgnoreCase
      | to_entries[]) as $e (.; .[$e.key] += [$e.value]))' rollover.json rollover.json >merged.json
check "merged statement: the mix would pass" 0 '^allow$' -- admits merged.json kms:Decrypt "$mix"
check "merged statement: refused by the checks" 1 'FAIL .*one PCR-conditioned Decrypt statement per release' -- \
  node "$here/kms_policy.mjs" merged.json 2
check "rollover: a revoked release among them is refused, nothing printed" 1 '^$' -- bash -c \
  "'$gb' kms-policy --db reg.db --release $release --release $old --role-arn $role 2>/dev/null"
check "... with its reason" 1 'revoked: release' -- bash -c \
  "'$gb' kms-policy --db reg.db --release $release --release $old --role-arn $role 2>&1 >/dev/null"
check "rollover: a release twice" 2 'given twice' -- \
  "$gb" kms-policy --db reg.db --release "$release" --release "$release" --tfvars
nine=()
for i in $(seq 9); do nine+=(--release "$(printf '%016d' "$i")"); done
check "rollover: at most 8 releases" 2 'at most 8' -- "$gb" kms-policy --db reg.db "${nine[@]}" --tfvars
check "rollover: an unknown release" 1 'not_found' -- \
  "$gb" kms-policy --db reg.db --release "$release" --release 0123456789abcdef --tfvars

# No back door (kms_policy.mjs): only the PCR-conditioned statements may
# decrypt; every other statement's action patterns are expanded against the
# actions that decrypt or lead to decryption. Each mutation re-opens a way
# and must be caught, by name. (No "|" in a mutation: it splits the lines.)
check "kms-policy: no statement but the PCR one decrypts" 0 ' 0 failed$' -- \
  node "$here/kms_policy.mjs" key-policy.json
check "kms-policy: administration is a list of actions, no pattern" 0 '^0$' -- \
  jq '[.Statement[0].Action[] | select(test("[*?]"))] | length' key-policy.json
while IFS='|' read -r mutation caught; do
  jq "$mutation" key-policy.json >mutated.json
  check "kms policy mutation caught: $mutation" 1 "FAIL .*$caught" -- \
    node "$here/kms_policy.mjs" mutated.json
done <<'MUTATIONS'
.Statement[0].Action += ["kms:Create*"]|no other statement decrypts.*kms:CreateGrant
.Statement[0].Action += ["kms:*"]|no other statement decrypts.*kms:Decrypt
.Statement[0].Action += ["KMS:reencrypt*"]|no other statement decrypts.*kms:ReEncryptFrom
.Statement[0].Action += ["kms:Generate?ataKey"]|no other statement decrypts.*kms:GenerateDataKey
.Statement[0].Action = "*"|no other statement decrypts.*kms:Decrypt
.Statement += [{Sid: "Other", Effect: "Allow", Principal: {AWS: "arn:aws:iam::123456789012:root"}, NotAction: "kms:Decrypt", Resource: "*"}]|no other statement decrypts.*kms:ReEncryptFrom
.Statement += [{Sid: "Writer", Effect: "Allow", Principal: {AWS: "*"}, Action: "kms:PutKeyPolicy", Resource: "*"}]|no other statement decrypts.*kms:PutKeyPolicy
.Statement[1].Condition.StringEqualsIgnoreCase |= del(.["kms:RecipientAttestation:PCR2"])|one PCR-conditioned
.Statement[1].Principal.AWS = "*"|one PCR-conditioned
.Statement[1].Action += ["kms:ReEncryptFrom"]|no other statement decrypts.*kms:ReEncryptFrom
.Statement[1].Condition.StringEqualsIgnoreCase["kms:RecipientAttestation:PCR0"] = ["aa", "00"]|no other statement decrypts.*kms:Decrypt
.Statement += [.Statement[1]]|no two statements admit the same PCRs
MUTATIONS
# The same for the Terraform: kms:Create* put back into kms.tf is caught.
cp -r "$repo/infra/terraform" tf-mutated
sed -i 's/"kms:CreateAlias",/"kms:Create*", "kms:CreateAlias",/' tf-mutated/kms.tf
check "terraform mutation caught: kms:Create* in the administration" 1 \
  "FAIL Terraform's key policy: no other statement decrypts.*kms:CreateGrant" -- \
  node "$here/check_terraform.mjs" tf-mutated release.auto.tfvars.json key-policy.json
# The replicated form (tiles.tf, replicas.tf): each mutation opens or
# breaks something check_terraform.mjs must name. Tab-separated: file,
# sed program, the check that must fail.
while IFS=$'\t' read -r file mutation caught; do
  rm -rf tf-rep && cp -r "$repo/infra/terraform" tf-rep && sed -i "$mutation" "tf-rep/$file"
  check "terraform mutation is a change: $mutation" 1 '' -- cmp -s "tf-rep/$file" "$repo/infra/terraform/$file"
  check "terraform mutation caught: $mutation" 1 "FAIL $caught" -- \
    node "$here/check_terraform.mjs" tf-rep release.auto.tfvars.json key-policy.json
done <<'MUTATIONS'
replicas.tf	s/health_check_type         = "ELB"/health_check_type         = "EC2"/	ASG: health check type ELB
replicas.tf	0,/path                = "\/readyz"/s//path                = "\/healthz"/	replicas' target group: /readyz
replicas.tf	s/values = \["POST"\]/values = ["POST", "GET"]/	ALB: one rule
replicas.tf	s/internal                   = false/internal                   = true/	ALB: internet-facing
replicas.tf	s/type            = "lb_cookie"/type            = "app_cookie"/	replicas' target group: sticky
replicas.tf	s/description                  = "the verifier, from the load balancer only"/&\n  cidr_ipv4 = "0.0.0.0\/0"/	replicas' group: in, only the verifier's port
replicas.tf	s/secretsmanager:GetSecretValue"\]/secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]/	replicas' role
replicas.tf	s/http_tokens                 = "required"/http_tokens                 = "optional"/	launch template: IMDSv2 only
tiles.tf	s|path_pattern           = "/tile/\*.p/\*"|path_pattern           = "/tile/*.q/*"|	cache behaviours
tiles.tf	0,/viewer_protocol_policy = "https-only"/s//viewer_protocol_policy = "allow-all"/	distribution: every behaviour HTTPS only
tiles.tf	s/min_ttl     = local.tiles_ttl_immutable/min_ttl     = 0/	immutable policy
tiles.tf	s/signing_behavior                  = "always"/signing_behavior                  = "never"/	OAC: S3, always signed
tiles.tf	s/block_public_policy     = true/block_public_policy     = false/	tiles bucket: public access blocked
tiles.tf	s/identifiers = \["cloudfront.amazonaws.com"\]/identifiers = ["s3.amazonaws.com"]/	tiles bucket: only the distribution may read
tiles.tf	s/values   = \[aws_cloudfront_distribution.tiles\[0\].arn\]/values   = ["*"]/	tiles bucket: only the distribution may read
tiles.tf	s|actions   = \["s3:PutObject", "s3:GetObject"\]|actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]|	tiles writer: PutObject, GetObject, ListBucket and nothing else
tiles.tf	/sid       = "WriteTiles"/,/resources/s|/${local.tiles_prefix}/\*|/*|	tiles writer: objects only under the prefix
tiles.tf	s|values   = \["${local.tiles_prefix}/\*"\]|values   = ["*"]|	tiles writer: listing only the prefix
MUTATIONS

# --- stand-in nitro-cli: run-enclave.sh and build-eif.sh ---------------------
mkdir bin
cat >bin/nitro-cli <<'EOF'
#!/usr/bin/env bash
# A stand-in for nitro-cli: enough of its JSON for the scripts under test.
state=${NITRO_STATE:?}
echo "$*" >>"$state/calls"
case $1 in
  describe-enclaves)
    if [ -e "$state/running" ]; then
      printf '[{"EnclaveName":"%s","EnclaveID":"i-1-enc1","EnclaveCID":16,"State":"%s","Flags":"NONE"}]\n' \
        "$(cat "$state/running")" "${NITRO_RUN_STATE:-RUNNING}"
    else
      echo '[]'
    fi ;;
  terminate-enclave) rm -f "$state/running"; echo '{"Terminated":true}' ;;
  run-enclave)
    while [ $# -gt 0 ]; do [ "$1" = --enclave-name ] && echo "$2" >"$state/running"; shift; done
    echo '{"State":"RUNNING"}' ;;
  build-enclave)
    out="" uri=""
    while [ $# -gt 0 ]; do
      case $1 in --output-file) out=$2 ;; --docker-uri) uri=$2 ;; esac
      shift
    done
    head -c 4096 /dev/urandom >"$state/k"; head -c 4096 /dev/urandom >"$state/r"
    "$GLASSBOX" eif build --kernel "$state/k" --cmdline "$uri" --ramdisk "$state/r" \
      --ramdisk "$state/r" --output "$out" >/dev/null
    if [ -n "${NITRO_LIE:-}" ]; then
      "$GLASSBOX" eif measure --json "$out" | jq '.Measurements.PCR2 = ("0" * 96)'
    else
      "$GLASSBOX" eif measure --json "$out"
    fi ;;
  *) exit 1 ;;
esac
EOF
chmod +x bin/nitro-cli
export NITRO_STATE=$tmp/nitro
mkdir "$NITRO_STATE"
echo glassbox >"$NITRO_STATE/running"
: >app.eif
check "run-enclave.sh: replaces the enclave" 0 'RUNNING with CID 16' -- \
  env PATH="$tmp/bin:$PATH" "$repo/infra/scripts/run-enclave.sh" --cpus 2 --memory 2048 app.eif
check "run-enclave.sh: terminated the old one" 0 '^terminate-enclave --enclave-id i-1-enc1$' -- \
  grep '^terminate' "$NITRO_STATE/calls"
check "run-enclave.sh: asked nitro-cli for CID 16, no debug mode" 0 \
  '^run-enclave --eif-path app.eif --cpu-count 2 --memory 2048 --enclave-cid 16 --enclave-name glassbox$' -- \
  grep '^run-enclave' "$NITRO_STATE/calls"
check "run-enclave.sh: waits, then says it did not start" 1 'not RUNNING after 2s' -- \
  env PATH="$tmp/bin:$PATH" NITRO_RUN_STATE=TERMINATING "$repo/infra/scripts/run-enclave.sh" --wait 2 app.eif
check "run-enclave.sh: debug mode is loud" 0 'DEBUG MODE' -- \
  env PATH="$tmp/bin:$PATH" "$repo/infra/scripts/run-enclave.sh" --debug-mode app.eif
check "build-eif.sh: pcr-values.json from the image" 0 'PCR0: [0-9a-f]{96}' -- \
  env PATH="$tmp/bin:$PATH" "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --out rel app 1.2
check "build-eif.sh: pcr-values.json is what glassbox measures" 0 '^true$' -- \
  bash -c "jq -e --slurpfile m rel/describe-eif.json '.name == \"app\" and .version == \"1.2\" and .pcrs[\"0\"] == \$m[0].Measurements.PCR0 and .pcrs[\"2\"] == \$m[0].Measurements.PCR2' rel/pcr-values.json"
check "build-eif.sh: the statement publishes" 0 '^[0-9a-f]{16}$' -- \
  "$repo/infra/scripts/publish-release.sh" --db reg.db --eif rel/app.eif rel/pcr-values.json
check "build-eif.sh: a disagreement with nitro-cli is refused" 1 'PCR2 differs' -- \
  env PATH="$tmp/bin:$PATH" NITRO_LIE=1 "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --out rel2 app 1.3

# build-eif.sh --kms-key: one more layer whose CMD carries the KMS options
# (a stand-in docker records what it was asked to build).
cat >bin/docker <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"$NITRO_STATE/docker-calls"
cat >"$NITRO_STATE/docker-stdin"
EOF
chmod +x bin/docker
kms_arn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
check "build-eif.sh --kms-key: builds" 0 'PCR0: ' -- env PATH="$tmp/bin:$PATH" \
  "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --kms-key "$kms_arn" --out relk app 1.4
check "build-eif.sh --kms-key: the layer's CMD" 0 '^true$' -- bash -c "tail -n1 '$NITRO_STATE/docker-stdin' |
  sed 's/^CMD //' | jq -e --arg k '$kms_arn' '. == [\"--kms-key\", \$k, \"--kms-region\", \"eu-west-1\",
    \"--sealed\", \"parent\", \"--parent\", \"vsock:3:8001\", \"--kms-proxy\", \"vsock:3:8000\"]'"
check "build-eif.sh --kms-key: on top of the given image" 0 '^FROM app:1$' -- head -n1 "$NITRO_STATE/docker-stdin"
check "build-eif.sh --kms-key: nitro-cli builds that layer" 0 '^build-enclave --docker-uri app:1-kms ' -- \
  grep '^build-enclave --docker-uri app:1-kms' "$NITRO_STATE/calls"
check "build-eif.sh --kms-key: not a key ARN" 2 'KMS key ARN' -- env PATH="$tmp/bin:$PATH" \
  "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --kms-key 'arn:aws:s3:::bucket' --out relk2 app 1.5
check "build-eif.sh --kms-key: no quote gets into the CMD" 2 'KMS key ARN' -- env PATH="$tmp/bin:$PATH" \
  "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --kms-key 'arn:aws:kms:eu-west-1:1:key/a", "--x' --out relk3 app 1.6
check "build-eif.sh --kms-key: an alias ARN is refused" 2 'not an alias' -- env PATH="$tmp/bin:$PATH" \
  "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --kms-key 'arn:aws:kms:eu-west-1:123456789012:alias/glassbox' --out relk4 app 1.7
check "build-eif.sh --require-sealed: in the CMD" 0 '^true$' -- bash -c "env PATH='$tmp/bin:$PATH' \
  '$repo/infra/scripts/build-eif.sh' --docker-uri app:1 --kms-key '$kms_arn' --require-sealed --out relk5 app 1.8 >/dev/null &&
  tail -n1 '$NITRO_STATE/docker-stdin' | sed 's/^CMD //' | jq -e '.[-1] == \"--require-sealed\"'"
check "build-eif.sh --require-sealed without --kms-key" 2 'goes with --kms-key' -- env PATH="$tmp/bin:$PATH" \
  "$repo/infra/scripts/build-eif.sh" --docker-uri app:1 --require-sealed --out relk6 app 1.9

# --- the parent: the enclave's way out to KMS --------------------------------
mkdir pconf
check "parent-config.sh" 0 'kms.eu-west-1.amazonaws.com' -- "$repo/infra/scripts/parent-config.sh" pconf eu-west-1
check "parent-config.sh: outbound to the region's KMS endpoint on vsock 8000" 0 \
  '^outbound = vsock:8000=kms\.eu-west-1\.amazonaws\.com:443$' -- grep '^outbound' pconf/parent.conf
check "parent-config.sh: the allowlist has that endpoint only" 0 '^\[\{"address":"kms.eu-west-1.amazonaws.com","port":443\}\]$' -- \
  python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))["allowlist"], separators=(",", ":")))' pconf/outbound.yaml
check "... an entry of AWS's own vsock-proxy allowlist" 0 'kms.eu-west-1.amazonaws.com' -- \
  grep -F '{address: kms.eu-west-1.amazonaws.com, port: 443}' "$repo/../shared/vectors/aws-tooling/vsock-proxy.yaml"
check "parent-config.sh: credentials and sealed blob flags" 0 \
  '^GLASSBOX_PARENT_FLAGS=--credentials vsock:8001 --sealed-file /var/lib/glassbox/sealed/signer.json$' -- \
  grep '^GLASSBOX_PARENT_FLAGS' pconf/parent.env
check "parent-config.sh: China's endpoint" 0 'kms.cn-north-1.amazonaws.com.cn' -- bash -c \
  "mkdir -p pcn && '$repo/infra/scripts/parent-config.sh' pcn cn-north-1 >/dev/null && cat pcn/outbound.yaml"
check "parent-config.sh: keeps an edited file" 0 'keeping' -- "$repo/infra/scripts/parent-config.sh" pconf eu-west-1
check "parent-config.sh: not a region" 2 'not a region' -- "$repo/infra/scripts/parent-config.sh" pconf 'eu west'
# glassbox-parent itself reads it (vsock listeners moved to loopback TCP,
# which this machine has) and checks the outbound target on the allowlist.
sed -e 's|^forward = .*|forward = tcp:127.0.0.1:0=tcp:127.0.0.1:9|' \
  -e 's|^outbound = vsock:8000=|outbound = tcp:127.0.0.1:0=|' -e 's|^health = .*|health = 127.0.0.1:0|' \
  -e "s|^allowlist = .*|allowlist = $tmp/pconf/outbound.yaml|" pconf/parent.conf >pconf/test.conf
check "glassbox-parent accepts it: KMS on the allowlist" 0 '"event":"allowed".*kms.eu-west-1.amazonaws.com:443' -- \
  bash -c "timeout 3 '$parent' --config pconf/test.conf --dns-server 127.0.0.1:9 2>&1; true"
sed 's/eu-west-1/eu-west-2/' pconf/outbound.yaml >pconf/other.yaml
sed "s|^allowlist = .*|allowlist = $tmp/pconf/other.yaml|" pconf/test.conf >pconf/other.conf
check "glassbox-parent refuses a target off the allowlist" 2 'not on the allowlist' -- \
  timeout 10 "$parent" --config pconf/other.conf --dns-server 127.0.0.1:9

# --- deploy-aws.sh against moto ---------------------------------------------
mport=$(free_port)
moto_server -H 127.0.0.1 -p "$mport" -c "$tmp/tls.crt" -k "$tmp/tls.key" >moto.log 2>&1 &
pids+=($!)
export AWS_ENDPOINT_URL=https://127.0.0.1:$mport AWS_CA_BUNDLE=$tmp/tls.crt
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_REGION
wait_port "$mport"
check "deploy-aws.sh refuses a revoked release, creating nothing" 1 'revoked' -- \
  "$repo/infra/scripts/deploy-aws.sh" --ssh-cidr 203.0.113.7/32 --release "$old" --db reg.db --state old.env
check "... no VPC was made" 0 '^0$' -- aws ec2 describe-vpcs --filters Name=tag:Project,Values=glassbox \
  --query 'length(Vpcs)'
check "deploy-aws.sh refuses SSH from everywhere" 2 'whole Internet' -- \
  "$repo/infra/scripts/deploy-aws.sh" --ssh-cidr 0.0.0.0/0 --release "$release" --db reg.db
# moto does not keep an instance's EnclaveOptions: the AWS CLI calls are
# recorded on their way, to check what was asked for.
mkdir awsbin
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/aws-calls"\nexec "%s" "$@"\n' "$tmp" "$(command -v aws)" >awsbin/aws
chmod +x awsbin/aws
check "deploy-aws.sh" 0 'INSTANCE_ID=i-' -- env PATH="$tmp/awsbin:$PATH" \
  "$repo/infra/scripts/deploy-aws.sh" --ssh-cidr 203.0.113.7/32 --release "$release" --db reg.db \
  --eif rel/app.eif --bridge-cidr 198.51.100.0/24 --state deploy.env
check "deploy-aws.sh will not run twice" 2 'exists' -- \
  "$repo/infra/scripts/deploy-aws.sh" --ssh-cidr 203.0.113.7/32 --release "$release" --db reg.db --state deploy.env
# shellcheck disable=SC1091
. ./deploy.env

inst=$(aws ec2 describe-instances --instance-ids "$INSTANCE_ID" --query 'Reservations[0].Instances[0]')
check "instance: asked with enclaves on" 0 '^ec2 run-instances .*--enclave-options Enabled=true ' -- grep '^ec2 run-instances' aws-calls
check "instance: IMDSv2 required" 0 '^"required"$' -- jq '.MetadataOptions.HttpTokens' <<<"$inst"
check "instance: in the subnet, with the group and profile" 0 '^true$' -- jq --arg s "$SUBNET_ID" \
  --arg g "$SECURITY_GROUP_ID" '.SubnetId == $s and .SecurityGroups[0].GroupId == $g and
  (.IamInstanceProfile.Arn | endswith("/glassbox-instance"))' <<<"$inst"
vol=$(jq -r '.BlockDeviceMappings[0].Ebs.VolumeId' <<<"$inst")
check "instance: root volume encrypted" 0 '^True$' -- \
  aws ec2 describe-volumes --volume-ids "$vol" --query 'Volumes[0].Encrypted' --output text
# The user data deploy-aws.sh rendered from Terraform's template.
aws ec2 describe-instance-attribute --instance-id "$INSTANCE_ID" --attribute userData \
  --query UserData.Value --output text | base64 -d >user-data.sh
check "shellcheck: the rendered user data" 0 '' -- shellcheck user-data.sh
check "the user data has no template left" 1 '' -- grep -n '\${[a-z_]*}[^}]' user-data.sh
check "instance: user data runs setup-parent.sh from the bucket" 0 "s3://\\\$\\{GLASSBOX_BUCKET\\}/bootstrap/setup-parent.sh" -- \
  cat user-data.sh
check "instance: user data names the bucket" 0 "GLASSBOX_BUCKET=\"$BUCKET\"" -- cat user-data.sh
check "VPC" 0 '^10.0.0.0/16$' -- aws ec2 describe-vpcs --vpc-ids "$VPC_ID" --query 'Vpcs[0].CidrBlock' --output text
check "subnet in the VPC" 0 "^$VPC_ID\$" -- aws ec2 describe-subnets --subnet-ids "$SUBNET_ID" --query 'Subnets[0].VpcId' --output text
check "internet gateway attached" 0 "^$VPC_ID\$" -- aws ec2 describe-internet-gateways \
  --internet-gateway-ids "$IGW_ID" --query 'InternetGateways[0].Attachments[0].VpcId' --output text
check "default route to it" 0 "^$IGW_ID\$" -- aws ec2 describe-route-tables --route-table-ids "$ROUTE_TABLE_ID" \
  --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].GatewayId" --output text
sg=$(aws ec2 describe-security-groups --group-ids "$SECURITY_GROUP_ID" --query 'SecurityGroups[0]')
check "SSH only from the given range" 0 '^\["203.0.113.7/32"\]$' -- jq -c \
  '[.IpPermissions[] | select(.FromPort == 22) | .IpRanges[].CidrIp]' <<<"$sg"
check "ingress: SSH, bridge, verifier" 0 '^\[22,443,6300\]$' -- jq -c '[.IpPermissions[].FromPort] | sort' <<<"$sg"
check "egress: HTTPS only" 0 '^\[\[443,"tcp"\]\]$' -- jq -c '[.IpPermissionsEgress[] | [.FromPort, .IpProtocol]]' <<<"$sg"
check "role policy: least privilege" 0 '^true$' -- bash -c "aws iam get-role-policy --role-name glassbox-instance \
  --policy-name glassbox-instance --query PolicyDocument | jq '[.Statement[].Action] | flatten | sort ==
  [\"kms:Decrypt\",\"kms:GenerateDataKey\",\"logs:CreateLogStream\",\"logs:DescribeLogStreams\",\"logs:PutLogEvents\",\"s3:GetObject\",\"s3:ListBucket\"]'"
check "role policy: logs only to its two log groups" 0 '^true$' -- bash -c "aws iam get-role-policy --role-name glassbox-instance \
  --policy-name glassbox-instance --query PolicyDocument | jq '[.Statement[] | select(.Sid == \"Logs\") | .Resource[]
  | sub(\"^arn:aws:logs:eu-west-1:[0-9]{12}:log-group:\"; \"\")] == [\"/glassbox/instance:*\", \"/glassbox/metrics:*\"]'"
check "instance profile holds the role" 0 '^glassbox-instance$' -- aws iam get-instance-profile \
  --instance-profile-name glassbox-instance --query 'InstanceProfile.Roles[0].RoleName' --output text
check "bucket: public access blocked" 0 '^True\s+True\s+True\s+True$' -- aws s3api get-public-access-block \
  --bucket "$BUCKET" --query 'PublicAccessBlockConfiguration.[BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets]' --output text
check "bucket: versioned" 0 '^Enabled$' -- aws s3api get-bucket-versioning --bucket "$BUCKET" --query Status --output text
check "bucket: encrypted" 0 'AES256' -- aws s3api get-bucket-encryption --bucket "$BUCKET"
check "bucket: HTTPS only" 0 'aws:SecureTransport' -- aws s3api get-bucket-policy --bucket "$BUCKET" --query Policy --output text
check "bucket: the image and the bootstrap" 0 'bootstrap/glassbox-dist.tar.gz.*bootstrap/setup-parent.sh.*enclaves/app.eif' -- \
  bash -c "aws s3api list-objects-v2 --bucket $BUCKET --query 'Contents[].Key' --output text | tr '\t' ' '"
check "KMS: rotation on" 0 '^True$' -- aws kms get-key-rotation-status --key-id "$KMS_KEY_ARN" --query KeyRotationEnabled --output text
check "KMS: the policy is glassbox kms-policy's, accepted by put-key-policy" 0 '^true$' -- bash -c \
  "aws kms get-key-policy --key-id $KMS_KEY_ARN --policy-name default --query Policy --output text |
   jq --slurpfile want <('$gb' kms-policy --db reg.db --release $release --role-arn $ROLE_ARN) '. == \$want[0]'"
check "KMS: the policy read back has no back door" 0 ' 0 failed$' -- bash -c \
  "aws kms get-key-policy --key-id $KMS_KEY_ARN --policy-name default --query Policy --output text \
   >read-back.json && node '$here/kms_policy.mjs' read-back.json"
check "KMS: Decrypt only under the registry's PCRs" 0 '^true$' -- bash -c \
  "aws kms get-key-policy --key-id $KMS_KEY_ARN --policy-name default --query Policy --output text |
   jq --slurpfile v release.auto.tfvars.json '.Statement[1].Condition.StringEqualsIgnoreCase ==
     (\$v[0].enclave_releases[\"$release\"] | with_entries(.key = \"kms:RecipientAttestation:PCR\" + .key))'"
check "log group" 0 '^90$' -- aws logs describe-log-groups --log-group-name-prefix /glassbox/instance \
  --query 'logGroups[0].retentionInDays' --output text
check "CloudTrail: read and write management events (KMS Decrypt is a read one)" 0 '^All\s+True$' -- \
  aws cloudtrail get-event-selectors --trail-name "$TRAIL" \
  --query 'EventSelectors[0].[ReadWriteType,IncludeManagementEvents]' --output text
check "CloudTrail: no event source excluded" 0 '^(None|\[\])?$' -- aws cloudtrail get-event-selectors \
  --trail-name "$TRAIL" --query 'EventSelectors[0].ExcludeManagementEventSources' --output text
check "CloudTrail: logging, files validated, its own bucket" 0 '^True\s+True\s+'"$TRAIL_BUCKET"'$' -- bash -c \
  "echo \$(aws cloudtrail get-trail-status --name $TRAIL --query IsLogging --output text) \
   \$(aws cloudtrail describe-trails --trail-name-list $TRAIL --query 'trailList[0].[LogFileValidationEnabled,S3BucketName]' --output text)"
check "CloudTrail: its bucket takes CloudTrail's writes for this trail only" 0 '^true$' -- bash -c \
  "aws s3api get-bucket-policy --bucket $TRAIL_BUCKET --query Policy --output text |
   jq '[.Statement[] | .Condition.StringEquals[\"aws:SourceArn\"] | endswith(\"trail/$TRAIL\")] | all'"
check "metrics log group" 0 '^7$' -- aws logs describe-log-groups --log-group-name-prefix /glassbox/metrics \
  --query 'logGroups[0].retentionInDays' --output text
check "instance: user data names both log groups and the deployment" 0 \
  'GLASSBOX_METRICS_LOG_GROUP="/glassbox/metrics"' -- grep -A1 GLASSBOX_METRICS_LOG_GROUP user-data.sh
check "instance: user data names the deployment" 0 '^export GLASSBOX_NAME="glassbox"$' -- cat user-data.sh
# The alarms deploy-aws.sh made in moto are the ones infra/terraform/alarms.tf
# makes, field for field; and a changed alarms.tf is noticed.
aws cloudwatch describe-alarms --alarm-name-prefix glassbox- >alarms.json
check "alarms: deploy-aws.sh made alarms.tf's three" 0 ' 0 failed$' -- \
  node "$here/tf_alarms.mjs" "$repo/infra/terraform" glassbox --compare alarms.json
cp -r "$repo/infra/terraform" tf-alarms
sed -i 's/metric      = "glassbox_ready"/metric      = "glassbox_readiness"/' tf-alarms/alarms.tf
check "alarms: a different metric in alarms.tf is noticed" 1 'FAIL glassbox-verifier-not-ready: MetricName' -- \
  node "$here/tf_alarms.mjs" tf-alarms glassbox --compare alarms.json


# --- the replicated form: a replica's user data ----------------------------
# Terraform's template rendered (every variable a value, $${ to ${),
# then checked by shellcheck, as the parent's is.
sed -E -e 's|\$\{mirror_url\}|https://d111111abcdef8.cloudfront.net/|' \
  -e 's|\$\{(region\|bucket\|log_key\|challenge_secret)\}|value-\1|g' -e 's|\$\{[a-z_]+\}|10|g' \
  -e 's|\$\$\{|${|g' "$repo/infra/terraform/replica-user-data.sh.tftpl" >replica-user-data.sh
check "the replica's user data has no template left" 1 '' -- grep -n '\${[a-z_]*}[^}]' replica-user-data.sh
check "shellcheck: the replica's rendered user data" 0 '' -- shellcheck replica-user-data.sh
check "... it runs setup-replica.sh with the mirror URL" 0 'GLASSBOX_MIRROR_URL="https://d111111abcdef8.cloudfront.net/"' -- \
  cat replica-user-data.sh

# The Cache-Control the sync writes and the TTLs CloudFront keeps agree.
ttl_sync=$(sed -n 's/^ttl=\${GLASSBOX_TILES_TTL:-\([0-9]*\)}$/\1/p' "$repo/infra/scripts/sync-tiles.sh")
ttl_enable=$(sed -n 's/^ttl=\${2:-\([0-9]*\)}$/\1/p' "$repo/infra/scripts/enable-tiles-sync.sh")
ttl_tf=$(sed -n '/^variable "tiles_checkpoint_ttl"/,/^}/s/^  default *= *\([0-9]*\)$/\1/p' \
  "$repo/infra/terraform/variables.tf")
check "the checkpoint's max-age: the sync's default is tiles_checkpoint_ttl's" 0 '^5 5 5$' -- \
  echo "$ttl_sync $ttl_enable $ttl_tf"
imm_sync=$(sed -n 's/^readonly IMMUTABLE_MAX_AGE=\([0-9]*\)$/\1/p' "$repo/infra/scripts/sync-tiles.sh")
imm_tf=$(sed -n 's/^  tiles_ttl_immutable = \([0-9]*\)$/\1/p' "$repo/infra/terraform/tiles.tf")
check "full tiles: the sync's max-age is the immutable cache policy's" 0 '^31536000 31536000$' -- \
  echo "$imm_sync $imm_tf"

# --- the replicated form: sync-tiles.sh against moto's S3 --------------------
# A registry of its own keeps its tiles (filled past two full tiles so that
# full, partial and level-1 tiles all exist), then gets real publications.
# A stand-in aws on PATH runs the real one and, after every call, the
# independent reader over what S3 holds at that moment: a checkpoint there
# must always be backed by the tiles there. With GB_HOOK set, a
# publication lands in the middle of the sync (after its last tiles sync,
# before the checkpoint step), as the registry's writes do on the primary.
"$gb" registry --db tl.db init --origin infra.glassbox.test/tiles >/dev/null
"$gb" registry --db tl.db key add rm.asc >/dev/null
"$tiles_fill" tl.db 600 >/dev/null
check "the registry keeps tiles" 0 'tiles of 600 entries' -- "$gb" registry --db tl.db tiles "$tmp/tl-tiles"
vkey=$("$gb" registry --db tl.db --json checkpoint | jq -r .vkey)
export GLASSBOX_SYNC_LOCK=$tmp/sync.lock
aws s3api create-bucket --bucket tiles-test --create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null
mkdir syncbin
cat >syncbin/aws <<EOF2
#!/usr/bin/env bash
"$(command -v aws)" "\$@"
rc=\$?
echo "\$*" >>"$tmp/sync-calls"
if [ -n "\${GB_HOOK:-}" ] && [[ " \$* " == *" tile/*.p/* "* ]]; then
  GB_HOOK= bash -c "\$GB_HOOK" >>"$tmp/hook.log" 2>&1
fi
python3 "$here/tiles_reader.py" tiles-test "\${GB_PREFIX:-log}" "$vkey" >"$tmp/reader.out" 2>&1 ||
  { echo "after aws \$*:"; cat "$tmp/reader.out"; } >>"$tmp/reader.fail"
exit \$rc
EOF2
chmod +x syncbin/aws
statement() {   # statement N: a release statement of its own
  printf '{"name":"tiles","version":"%s","pcrs":{"0":"%096x","1":"%s","2":"%s"}}' \
    "$1" "$1" "$(pcr b)" "$(pcr c)" >"tl-$1.json"
}
publish() { statement "$1" && "$repo/infra/scripts/publish-release.sh" --key rm@example.com --db tl.db "tl-$1.json" >/dev/null; }
sync_tiles() {   # sync_tiles [NAME=VALUE...] [--full]: the script into s3://tiles-test/log
  local a envs=() opts=()
  for a; do
    case $a in --*) opts+=("$a") ;; *) envs+=("$a") ;; esac
  done
  env PATH="$tmp/syncbin:$PATH" "${envs[@]}" "$repo/infra/scripts/sync-tiles.sh" "${opts[@]}" \
    "$tmp/tl-tiles" s3://tiles-test/log
}
: >reader.fail
check "sync-tiles.sh: the first publication" 0 'published the checkpoint of size 600' -- sync_tiles
check "... the first run lists the prefix (aws s3 sync)" 0 '^s3 sync ' -- cat sync-calls
: >sync-calls
for i in 1 2 3; do
  publish "$i"
  check "sync-tiles.sh after change $i" 0 "published the checkpoint of size $((600 + i))" -- sync_tiles
done
check "sync-tiles.sh: nothing new, nothing put" 0 'already published' -- sync_tiles
check "later runs copy only what is new, without listing the prefix" 1 '' -- grep -q '^s3 sync' sync-calls
check "... with aws s3 cp" 0 '^s3 cp --recursive ' -- cat sync-calls
check "a reader finds the published log whole" 0 '^ok: size 603$' -- \
  python3 "$here/tiles_reader.py" tiles-test log "$vkey"
check "... and the reader ran after every AWS call, never finding a hole" 0 '^$' -- cat reader.fail
# A publication in the middle of a sync: the checkpoint read first is the
# one put, backed by the tiles just copied; the next run puts the new one.
publish 4
statement 5
check "a change during the sync: the snapshot is published" 0 'published the checkpoint of size 604' -- \
  sync_tiles GB_HOOK="'$repo/infra/scripts/publish-release.sh' --key rm@example.com --db tl.db tl-5.json"
check "... while the registry had moved on" 0 '^605$' -- sed -n 2p tl-tiles/checkpoint
check "... no hole seen" 0 '^$' -- cat reader.fail
check "... the next run publishes it" 0 'published the checkpoint of size 605' -- sync_tiles
check "... no hole seen" 0 '^$' -- cat reader.fail
# Each kind with its Cache-Control and type.
head_obj() { aws s3api head-object --bucket tiles-test --key "log/$1" --query '[CacheControl,ContentType]' --output text; }
check "a full tile: immutable, a year" 0 '^public, max-age=31536000, immutable\s+application/octet-stream$' -- head_obj tile/0/001
check "a full entry bundle: immutable" 0 '^public, max-age=31536000, immutable\s' -- head_obj tile/entries/000
check "a partial tile: short" 0 '^public, max-age=5\s+application/octet-stream$' -- head_obj tile/0/002.p/93
check "a partial level-1 tile: short" 0 '^public, max-age=5\s' -- head_obj tile/1/000.p/2
check "a partial entry bundle: short" 0 '^public, max-age=5\s' -- head_obj tile/entries/002.p/93
check "the checkpoint: short, text" 0 '^public, max-age=5\s+text/plain; charset=utf-8$' -- head_obj checkpoint
check "older partial tiles stay (readers of older checkpoints)" 0 '^public, max-age=5\s' -- head_obj tile/0/002.p/88
# An incremental run copies the tiles the new tree needs beyond the
# published one, found from the two sizes: here the last partial bundle and
# level-0 tile (level 1 did not change), then the checkpoint.
publish 6
: >sync-calls
check "one change: published" 0 'published the checkpoint of size 606' -- sync_tiles
check "... without listing the prefix" 1 '' -- grep -q '^s3 sync' sync-calls
check "... the new partial tiles, then the checkpoint (aws s3 cp)" 0 '^s3 cp --recursive .*tile/\*\.p/\*' -- cat sync-calls
check "... the new partial bundle is there" 0 '^public, max-age=5\s' -- head_obj tile/entries/002.p/94
check "... whole" 0 '^ok: size 606$' -- python3 "$here/tiles_reader.py" tiles-test log "$vkey"
# The reader itself: a missing tile is noticed; --full puts it back.
aws s3 rm --only-show-errors s3://tiles-test/log/tile/entries/002.p/94
check "the reader notices a missing bundle" 1 'INCONSISTENT: tile/entries/002.p/94 is missing' -- \
  python3 "$here/tiles_reader.py" tiles-test log "$vkey"
: >reader.fail
: >sync-calls
check "... which sync-tiles.sh --full puts back" 0 'already published' -- sync_tiles --full
check "... by listing the prefix (aws s3 sync)" 0 '^s3 sync ' -- cat sync-calls
check "... whole again" 0 '^ok: size 606$' -- python3 "$here/tiles_reader.py" tiles-test log "$vkey"
# Rollback and fork: an older checkpoint, or another one of the same size,
# is never put over the published one, and nothing is copied for it.
cp -r tl-tiles tl-old
printf 'infra.glassbox.test/tiles\n605\n%s\n\n' "$(head -c 32 /dev/zero | base64)" >tl-old/checkpoint
: >sync-calls
check "sync-tiles.sh refuses a rollback" 1 'refused: .*size 606, this one of 605 \(a rollback\)' -- \
  env PATH="$tmp/syncbin:$PATH" "$repo/infra/scripts/sync-tiles.sh" tl-old s3://tiles-test/log
printf 'infra.glassbox.test/tiles\n606\n%s\n\n' "$(head -c 32 /dev/zero | base64)" >tl-old/checkpoint
check "sync-tiles.sh refuses a fork" 1 'another root \(a fork\)' -- \
  env PATH="$tmp/syncbin:$PATH" "$repo/infra/scripts/sync-tiles.sh" tl-old s3://tiles-test/log
check "... nothing copied for either" 1 '' -- grep -q '^s3 \(cp\|sync\)' sync-calls
check "... the published checkpoint is still the log's" 0 '^ok: size 606$' -- \
  python3 "$here/tiles_reader.py" tiles-test log "$vkey"
check "sync-tiles.sh: not an S3 destination" 2 's3://BUCKET/PREFIX' -- "$repo/infra/scripts/sync-tiles.sh" tl-tiles /tmp/x
# Mutations of the script, each into a fresh prefix: the reader, run after
# every AWS call, must catch the checkpoint that went out before its tiles.
# (a) the checkpoint read after the tiles were copied, with a change in
# between; (b) the checkpoint copied with the full tiles, before the
# partial ones.
sed -e 's|^# 4\. The checkpoint|cp "$dir/checkpoint" "$tmp/checkpoint"; size=$(note_size "$tmp/checkpoint")\n&|' \
  "$repo/infra/scripts/sync-tiles.sh" >sync-late.sh
sed "s|^sync --exclude '\*' --include 'tile/\*' --exclude '\*.p/\*' \\\\\$|sync --exclude '*.p/*' \\\\|" \
  "$repo/infra/scripts/sync-tiles.sh" >sync-one.sh
chmod +x sync-late.sh sync-one.sh
check "mutation (a) is a real change" 1 '' -- cmp -s sync-late.sh "$repo/infra/scripts/sync-tiles.sh"
check "mutation (b) is a real change" 1 '' -- cmp -s sync-one.sh "$repo/infra/scripts/sync-tiles.sh"
statement 7
: >reader.fail
env PATH="$tmp/syncbin:$PATH" GB_PREFIX=late \
  GB_HOOK="'$repo/infra/scripts/publish-release.sh' --key rm@example.com --db tl.db tl-7.json" \
  "$tmp/sync-late.sh" "$tmp/tl-tiles" s3://tiles-test/late >/dev/null 2>&1
check "mutation (a): checkpoint read last, a change in between: caught" 0 'INCONSISTENT: tile/.* is missing' -- cat reader.fail
publish 8
: >reader.fail
env PATH="$tmp/syncbin:$PATH" GB_PREFIX=one "$tmp/sync-one.sh" "$tmp/tl-tiles" s3://tiles-test/one >/dev/null 2>&1
check "mutation (b): checkpoint with the full tiles, before the partial ones: caught" 0 'INCONSISTENT: tile/.*\.p/.* is missing' -- cat reader.fail
: >reader.fail
check "the real script into a fresh prefix: whole at every step" 0 'published the checkpoint of size 608' -- \
  env PATH="$tmp/syncbin:$PATH" GB_PREFIX=fresh "$repo/infra/scripts/sync-tiles.sh" "$tmp/tl-tiles" s3://tiles-test/fresh
check "... no hole seen" 0 '^$' -- cat reader.fail

finish

#!/usr/bin/env bash
# glassbox kms-policy on a registry made here (real gpg keys): one release,
# the rollover window of two (one statement each, so either release's whole
# PCR set is admitted and no mix, as tests/infra/kms_policy.mjs evaluates
# IAM), the Terraform variables, and every refusal with its stable reason.
# tests/infra checks the same policies against Terraform and moto; this
# runs without them.
# usage: test_kms_policy.sh GLASSBOX
# Single quotes around jq programs are meant:
# shellcheck disable=SC2016
set -u
gb=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
cd "$tmp" || exit 2
reg() { "$gb" registry --db reg.db "$@"; }
pcr() { printf '%096d' 0 | tr 0 "$1"; }
role=arn:aws:iam::123456789012:role/glassbox-instance
mjs=$here/../infra/kms_policy.mjs
admits() { node "$mjs" --admits "$1" "$role" "$2" "$3"; }

gpg --batch --passphrase '' --quick-gen-key 'Release Manager <rm@example.com>' \
  ed25519 sign 1y 2>/dev/null
gpg --batch --armor --export rm@example.com >rm.asc
reg init --origin kms.glassbox.test/log >/dev/null
reg key add rm.asc >/dev/null
publish() {   # publish VERSION P0 P1 P2 [P8]: prints the release id
  if [ $# -eq 5 ]; then
    printf '{"name":"app","version":"%s","pcrs":{"0":"%s","1":"%s","2":"%s","8":"%s"}}' \
      "$1" "$(pcr "$2")" "$(pcr "$3")" "$(pcr "$4")" "$(pcr "$5")" >"app-$1.json"
  else
    printf '{"name":"app","version":"%s","pcrs":{"0":"%s","1":"%s","2":"%s"}}' \
      "$1" "$(pcr "$2")" "$(pcr "$3")" "$(pcr "$4")" >"app-$1.json"
  fi
  gpg --batch --yes --armor --local-user rm@example.com --detach-sign "app-$1.json"
  reg --json publish "app-$1.json" "app-$1.json.asc" | jq -r .id
}
a=$(publish 1.0 a b c 8)
b=$(publish 1.1 d e f 9)
old=$(publish 0.9 1 2 3)
printf '{"action":"revoke","origin":"kms.glassbox.test/log","pcr0":"%s","reason":"old"}' "$(pcr 1)" >rv.json
gpg --batch --yes --armor --local-user rm@example.com --detach-sign rv.json
reg revoke rv.json rv.json.asc >/dev/null
pcrs_of() { jq -c .pcrs "app-$1.json"; }

# --- one release ---------------------------------------------------------------
"$gb" kms-policy --db reg.db --release "$a" --role-arn "$role" >one.json
check "one release: the administration statement and one for the release" 0 \
  '^\["KeyAdministrationWithoutDecrypt","EnclaveRelease'"$a"'"\]$' -- jq -c '[.Statement[].Sid]' one.json
check "one release: its PCR0/1/2/8, one value each" 0 '^true$' -- jq --argjson p "$(pcrs_of 1.0)" \
  '.Statement[1].Condition.StringEqualsIgnoreCase == ($p | with_entries(.key = "kms:RecipientAttestation:PCR" + .key))' one.json
check "one release: Decrypt and GenerateDataKey" 0 '^\["kms:Decrypt","kms:GenerateDataKey"\]$' -- \
  jq -c '.Statement[1].Action' one.json
check "one release: to the role" 0 "^\"$role\"\$" -- jq '.Statement[1].Principal.AWS' one.json
check "one release: the administrator is the account root" 0 '^"arn:aws:iam::123456789012:root"$' -- \
  jq '.Statement[0].Principal.AWS' one.json
check "one release: no back door" 0 ' 0 failed$' -- node "$mjs" one.json 1
check "one release: its PCRs decrypt" 0 '^allow$' -- admits one.json kms:Decrypt "$(pcrs_of 1.0)"
check "one release: without PCR8 they do not" 0 '^deny$' -- admits one.json kms:Decrypt \
  "$(jq -c 'del(.["8"])' <<<"$(pcrs_of 1.0)")"
check "one release: no Recipient, no decrypt" 0 '^deny$' -- admits one.json kms:Decrypt none
check "one release: no data key without one either" 0 '^deny$' -- admits one.json kms:GenerateDataKey none

# --- the rollover window -------------------------------------------------------
"$gb" kms-policy --db reg.db --release "$b" --release "$a" --role-arn "$role" >two.json
check "two releases: a statement each, in release id order" 0 '^true$' -- jq --arg a "$a" --arg b "$b" \
  '[.Statement[1:][].Sid] == ([$a, $b] | sort | map("EnclaveRelease" + .))' two.json
check "two releases: the same whichever order they are given" 0 '^true$' -- bash -c \
  "'$gb' kms-policy --db reg.db --release $a --release $b --role-arn $role | jq --slurpfile t two.json '. == \$t[0]'"
check "two releases: no back door" 0 ' 0 failed$' -- node "$mjs" two.json 2
check "two releases: the old one's PCRs" 0 '^allow$' -- admits two.json kms:Decrypt "$(pcrs_of 1.0)"
check "two releases: the new one's PCRs" 0 '^allow$' -- admits two.json kms:GenerateDataKey "$(pcrs_of 1.1)"
mix=$(jq -nc --argjson a "$(pcrs_of 1.0)" --argjson b "$(pcrs_of 1.1)" '$a + {"8": $b["8"]}')
check "two releases: A's image with B's PCR8 (re-signed) is refused" 0 '^deny$' -- admits two.json kms:Decrypt "$mix"
mix=$(jq -nc --argjson a "$(pcrs_of 1.0)" --argjson b "$(pcrs_of 1.1)" '$b + {"0": $a["0"]}')
check "two releases: B with A's PCR0 is refused" 0 '^deny$' -- admits two.json kms:Decrypt "$mix"
check "two releases: the revoked one's PCRs are refused" 0 '^deny$' -- admits two.json kms:Decrypt "$(pcrs_of 0.9)"
"$gb" kms-policy --db reg.db --release "$a" --release "$b" --tfvars >two.tfvars.json
check "two releases: --tfvars" 0 '^true$' -- jq --arg a "$a" --arg b "$b" --argjson pa "$(pcrs_of 1.0)" \
  --argjson pb "$(pcrs_of 1.1)" '. == {enclave_releases: {($a): $pa, ($b): $pb}}' two.tfvars.json

# --- refusals ------------------------------------------------------------------
check "revoked: refused" 1 "revoked: release $old" -- "$gb" kms-policy --db reg.db --release "$old" --tfvars
check "revoked among others: refused, nothing printed" 1 '^$' -- bash -c \
  "'$gb' kms-policy --db reg.db --release $a --release $old --role-arn $role 2>/dev/null"
check "unknown: refused" 1 'not_found: release 0123456789abcdef' -- \
  "$gb" kms-policy --db reg.db --release "$a" --release 0123456789abcdef --tfvars
check "a release twice" 2 'given twice' -- "$gb" kms-policy --db reg.db --release "$a" --release "$a" --tfvars
nine=()
for i in $(seq 9); do nine+=(--release "$(printf '%016d' "$i")"); done
check "more than 8 releases" 2 'at most 8' -- "$gb" kms-policy --db reg.db "${nine[@]}" --tfvars
check "not a release id" 2 '16 lower-case hex' -- "$gb" kms-policy --db reg.db --release ABC --tfvars
check "no release" 2 'required' -- "$gb" kms-policy --db reg.db --role-arn "$role"
check "not a role" 2 'not an IAM role ARN' -- \
  "$gb" kms-policy --db reg.db --release "$a" --role-arn arn:aws:iam::123456789012:user/x
# --- an instance release (NitroTPM): KMS's NitroTPMPCR condition keys -----------
printf '{"kind":"nitrotpm","name":"ami","version":"1","pcrs":{"4":"%s","7":"%s","12":"%s"}}' \
  "$(pcr 4)" "$(pcr 7)" "$(pcr c)" >ami.json
gpg --batch --yes --armor --local-user rm@example.com --detach-sign ami.json
ami=$(reg --json publish ami.json ami.json.asc | jq -r .id)
"$gb" kms-policy --db reg.db --release "$ami" --role-arn "$role" >ami-policy.json
check "instance release: its registers under NitroTPMPCR keys, nothing else" 0 '^true$' -- \
  jq --argjson p "$(jq -c .pcrs ami.json)" '.Statement[1].Condition.StringEqualsIgnoreCase ==
  ($p | with_entries(.key = "kms:RecipientAttestation:NitroTPMPCR" + .key))' ami-policy.json
check "instance release: no enclave PCR key" 0 '^0$' -- \
  jq '[.Statement[1].Condition.StringEqualsIgnoreCase | keys[] | select(test(":PCR[0-9]"))] | length' ami-policy.json
"$gb" kms-policy --db reg.db --release "$ami" --release "$a" --role-arn "$role" >mixed.json
check "instance and enclave releases side by side: one statement each" 0 '^2$' -- \
  jq '[.Statement[] | select(.Sid | startswith("EnclaveRelease"))] | length' mixed.json
check "instance release in --tfvars: unsupported_kind, nothing printed" 1 '^glassbox kms-policy: unsupported_kind: release' -- \
  sh -c '"$0" kms-policy --db reg.db --release "$1" --tfvars 2>&1 >out.txt; s=$?; [ -s out.txt ] && echo printed; exit $s' "$gb" "$ami"

finish

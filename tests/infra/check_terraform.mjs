// Checks infra/terraform without terraform or AWS: every .tf file parsed to
// JSON by @cdktf/hcl2json, then the properties a security review looks
// for. The KMS statements are expanded with the tfvars `glassbox kms-policy
// --tfvars` wrote and must equal the statements of the policy the same
// command prints for the releases (the registry's PCRs), one per release.
//
// usage: node check_terraform.mjs TF_DIR TFVARS_JSON KMS_POLICY_JSON
import fs from "node:fs";
import path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { check, finish } from "../harness.mjs";
import { checkPolicy } from "./kms_policy.mjs";

const [dir, tfvarsFile, policyFile] = process.argv.slice(2);

// Merges the files' blocks: resource.TYPE.NAME = [body], ...
const tf = { resource: {}, data: {}, variable: {}, output: {}, locals: [] };
const texts = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".tf")).sort()) {
  const text = fs.readFileSync(path.join(dir, f), "utf8");
  texts[f] = text;
  const j = await parse(f, text);
  for (const kind of ["resource", "data"])
    for (const [type, byName] of Object.entries(j[kind] || {}))
      tf[kind][type] = { ...(tf[kind][type] || {}), ...byName };
  Object.assign(tf.variable, j.variable || {});
  Object.assign(tf.output, j.output || {});
  tf.locals.push(...(j.locals || []));
}
const res = (type, name) => (tf.resource[type] || {})[name]?.[0];
const data = (type, name) => (tf.data[type] || {})[name]?.[0];
const all = (type) => Object.values(tf.resource[type] || {}).map((x) => x[0]);

// No account, region or credentials written down.
for (const [f, text] of Object.entries(texts)) {
  check(`${f}: no account id`, !/\b\d{12}\b/.test(text));
  check(`${f}: no region name`, !/\b(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?(east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b/.test(text));
  check(`${f}: no credentials`, !/(access_key|secret_key|AKIA[0-9A-Z]{16})/.test(text));
}
check("region is a variable without default", tf.variable.region &&
  tf.variable.region[0].default === undefined);

// The instance: enclaves, IMDSv2, encrypted root, user data, profile.
const inst = res("aws_instance", "parent");
check("an EC2 instance", inst !== undefined);
check("enclave options on", inst.enclave_options?.[0]?.enabled === true);
check("IMDSv2 required", inst.metadata_options?.[0]?.http_tokens === "required" &&
  inst.metadata_options[0].http_put_response_hop_limit === 1);
check("root volume encrypted", inst.root_block_device?.[0]?.encrypted === true);
check("user data bootstraps the parent", /templatefile\(.*user-data\.sh\.tftpl/.test(
  inst.user_data || ""));
check("instance profile", inst.iam_instance_profile ===
  "${aws_iam_instance_profile.instance.name}");

// Network: SSH from the variable only, ports as variables, egress HTTPS.
const ssh = res("aws_vpc_security_group_ingress_rule", "ssh");
check("SSH only from var.ssh_cidr", ssh.from_port === 22 && ssh.to_port === 22 &&
  ssh.cidr_ipv4 === "${var.ssh_cidr}");
check("ssh_cidr refuses 0.0.0.0/0", /0\.0\.0\.0\/0/.test(JSON.stringify(
  tf.variable.ssh_cidr[0].validation)) && tf.variable.ssh_cidr[0].default === undefined);
check("bridge port is a variable", res("aws_vpc_security_group_ingress_rule",
  "bridge").from_port === "${var.bridge_port}");
check("verifier port is a variable", res("aws_vpc_security_group_ingress_rule",
  "verifier").from_port === "${var.verifier_port}");
const ingress = all("aws_vpc_security_group_ingress_rule");
check("nothing else is open", ingress.length === 3, ingress.length);
const egress = all("aws_vpc_security_group_egress_rule");
check("egress: HTTPS only", egress.length === 1 && egress[0].from_port === 443 &&
  egress[0].ip_protocol === "tcp");
check("a route to the internet gateway", res("aws_route", "internet")?.gateway_id ===
  "${aws_internet_gateway.main.id}");

// The bucket: versioned, encrypted, not public, HTTPS only.
const pab = res("aws_s3_bucket_public_access_block", "images");
check("bucket not public", ["block_public_acls", "block_public_policy",
  "ignore_public_acls", "restrict_public_buckets"].every((k) => pab[k] === true));
check("bucket versioned", res("aws_s3_bucket_versioning", "images")
  .versioning_configuration[0].status === "Enabled");
check("bucket encrypted", res("aws_s3_bucket_server_side_encryption_configuration",
  "images").rule[0].apply_server_side_encryption_by_default[0].sse_algorithm === "AES256");
const bp = data("aws_iam_policy_document", "images").statement[0];
check("bucket refuses plain HTTP", bp.effect === "Deny" &&
  bp.condition[0].variable === "aws:SecureTransport" &&
  bp.condition[0].values[0] === "false");
check("no bucket ACL or website", !tf.resource.aws_s3_bucket_acl &&
  !tf.resource.aws_s3_bucket_website_configuration);

// The role: only what the issue lists.
const allowed = new Set(["s3:GetObject", "s3:ListBucket", "kms:Decrypt",
  "kms:GenerateDataKey", "logs:CreateLogStream", "logs:PutLogEvents",
  "logs:DescribeLogStreams"]);
const role = data("aws_iam_policy_document", "instance").statement;
check("role: least privilege", role.every((s) => s.actions.every((a) =>
  allowed.has(a)) && s.resources.every((r) => r !== "*")), role);

const logs = role.find((s) => s.sid === "Logs");
check("role: logs to the instance's and the metrics' log groups only",
  JSON.stringify(logs?.resources) === JSON.stringify([
    "${aws_cloudwatch_log_group.instance.arn}:*",
    "${aws_cloudwatch_log_group.metrics.arn}:*"]), logs);
check("no cloudwatch:PutMetricData (metrics come from the log events)",
  !JSON.stringify(role).includes("cloudwatch:"));
check("metrics log group, with a retention", res("aws_cloudwatch_log_group",
  "metrics")?.name === "/${local.name}/metrics" &&
  res("aws_cloudwatch_log_group", "metrics").retention_in_days ===
  "${var.metrics_log_retention_days}");
const alarm = res("aws_cloudwatch_metric_alarm", "glassbox");
check("alarms: one per entry of local.alarms, in the Glassbox namespace, by deployment",
  alarm?.for_each === "${local.alarms}" &&
  alarm.namespace === "${local.metrics_namespace}" &&
  JSON.stringify(alarm.dimensions) === JSON.stringify({ Deployment: "${local.name}" }), alarm);
const alarmLocals = Object.assign({}, ...tf.locals).alarms || {};
check("alarms: enclave down, verifier not ready, log damaged",
  JSON.stringify(Object.keys(alarmLocals).sort()) ===
  JSON.stringify(["enclave-down", "log-damaged", "verifier-not-ready"]), Object.keys(alarmLocals));
check("alarms: silence is an alarm for the enclave and the verifier",
  alarmLocals["enclave-down"]?.missing === "breaching" &&
  alarmLocals["verifier-not-ready"]?.missing === "breaching");
check("the user data gets the metrics log group and the deployment's name",
  /metrics_log_group = aws_cloudwatch_log_group\.metrics\.name/.test(texts["ec2.tf"]) &&
  /name += local\.name/.test(texts["ec2.tf"]));

// The key: rotation, and Decrypt only under the release's PCRs.
const key = res("aws_kms_key", "enclave");
check("KMS rotation on", key.enable_key_rotation === true);
check("key policy from the document", key.policy ===
  "${data.aws_iam_policy_document.kms.json}");
const kmsDoc = data("aws_iam_policy_document", "kms");
const kms = kmsDoc.statement;
check("no static statement may decrypt", kms.every((s) => !s.actions.some((a) =>
  a === "kms:Decrypt" || a === "kms:*" || a === "*")), kms);
const dynStmt = kmsDoc.dynamic?.statement?.[0];
const dec = dynStmt?.content?.[0];
check("one statement per release, from var.enclave_releases",
  kmsDoc.dynamic?.statement?.length === 1 && dynStmt.for_each ===
  "${var.enclave_releases}" && dec?.sid === "EnclaveRelease${statement.key}", dynStmt);
check("it names the instance role", dec?.principals?.[0]?.identifiers?.[0] ===
  "${aws_iam_role.instance.arn}");
check("it allows Decrypt and GenerateDataKey only", JSON.stringify(dec?.actions) ===
  JSON.stringify(["kms:Decrypt", "kms:GenerateDataKey"]), dec?.actions);
const dyn = dec?.dynamic?.condition?.[0];
check("its conditions come from the release's PCRs", dyn?.for_each ===
  "${statement.value}" && dyn.content[0].test === "StringEqualsIgnoreCase" &&
  dyn.content[0].variable === "kms:RecipientAttestation:PCR${condition.key}" &&
  dyn.content[0].values[0] === "${condition.value}", dyn);
check("enclave_releases is validated", tf.variable.enclave_releases?.[0]
  ?.validation !== undefined);

// Expand the statements as Terraform would, with the releases' tfvars
// (a map: in key order), and compare with the policy glassbox kms-policy
// prints for those releases.
const tfvars = JSON.parse(fs.readFileSync(tfvarsFile, "utf8"));
const releaseIds = Object.keys(tfvars.enclave_releases || {}).sort();
check("the tfvars name releases", releaseIds.length >= 1, tfvars);
const cliPolicy = JSON.parse(fs.readFileSync(policyFile, "utf8"));
const admin = kms.find((s) => s.sid === "KeyAdministrationWithoutDecrypt");
const cliAdmin = cliPolicy.Statement.find(
  (s) => s.Sid === "KeyAdministrationWithoutDecrypt");
check("the same administration actions as the CLI's policy",
  JSON.stringify(admin?.actions) === JSON.stringify(cliAdmin?.Action));
check("the administrator is var.kms_admin_arn or the account root",
  admin?.principals?.[0]?.identifiers?.[0] === "${local.kms_admin}");

// The policy document as aws_iam_policy_document renders it (a one-item
// list becomes a string), the references resolved to the principals the
// CLI was given and the dynamic conditions expanded with the tfvars. It
// must be the CLI's statement for statement, and pass the same checks.
const one = (v) => (Array.isArray(v) && v.length === 1 ? v[0] : v);
const refs = {
  "${local.kms_admin}": cliAdmin?.Principal?.AWS,
  "${aws_iam_role.instance.arn}": cliPolicy.Statement.find((s) =>
    /^EnclaveRelease/.test(s.Sid ?? ""))?.Principal?.AWS,
};
function renderCondition(st, pcrs) {
  const blocks = [...(st.condition || [])];
  for (const d of st.dynamic?.condition || []) {
    if (d.for_each !== "${statement.value}")
      return { unrenderable: d.for_each };
    for (const [k, v] of Object.entries(pcrs))
      for (const c of d.content)
        blocks.push({ test: c.test, variable: c.variable.replace(
          "${condition.key}", k), values: c.values.map((x) =>
          x === "${condition.value}" ? v : x) });
  }
  const out = {};
  for (const b of blocks)
    (out[b.test] ??= {})[b.variable] = one(b.values);
  return blocks.length ? out : undefined;
}
function renderStatement(s, key, pcrs) {
  const r = { Sid: s.sid.replace("${statement.key}", key), Effect: s.effect ?? "Allow" };
  if (s.principals)
    r.Principal = Object.fromEntries(s.principals.map((p) => [p.type,
      one(p.identifiers.map((i) => refs[i] ?? i))]));
  if (s.actions) r.Action = one(s.actions);
  if (s.not_actions) r.NotAction = one(s.not_actions);
  r.Resource = one(s.resources);
  const c = renderCondition(s, pcrs);
  if (c) r.Condition = c;
  return r;
}
const rendered = {
  Version: "2012-10-17",
  Statement: [...kms.map((s) => renderStatement(s, "", {})),
    ...(dec ? releaseIds.map((id) => renderStatement(dec, id,
      tfvars.enclave_releases[id])) : [])],
};
checkPolicy("Terraform's key policy", rendered, releaseIds.length);
checkPolicy("the CLI's key policy", cliPolicy, releaseIds.length);
const canon = (x) => JSON.stringify(x, (k, v) => v && typeof v === "object" &&
  !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((kk) =>
    [kk, v[kk]])) : v);
check("Terraform's key policy is the CLI's, statement for statement",
  canon(rendered.Statement) === canon(cliPolicy.Statement),
  { terraform: rendered.Statement, cli: cliPolicy.Statement });

check("the bootstrap is uploaded before the instance boots",
  res("aws_s3_object", "setup") && res("aws_s3_object", "dist") &&
  JSON.stringify(inst.depends_on).includes("aws_s3_object.setup"));

check("outputs", ["instance_id", "verifier_url", "image_bucket", "kms_key_arn",
  "instance_role_arn", "trail_bucket"].every((o) => tf.output[o]));

// CloudTrail: every KMS call on the key recorded (seed 003's checklist).
// Decrypt and GenerateDataKey are read-only management events: the trail
// must log read management events and must not exclude kms.amazonaws.com.
const trail = res("aws_cloudtrail", "kms");
const sel = trail?.event_selector?.[0];
check("a CloudTrail trail", trail !== undefined && trail.count ===
  "${var.trail_enabled ? 1 : 0}" && tf.variable.trail_enabled?.[0]?.default === true);
check("the trail logs read management events (KMS Decrypt, GenerateDataKey)",
  sel?.include_management_events === true && sel?.read_write_type === "All" &&
  !trail.advanced_event_selector, sel);
check("the trail does not exclude KMS events", !JSON.stringify(trail ?? {})
  .includes("kms.amazonaws.com"));
check("the trail's files are validated", trail?.enable_log_file_validation === true);
check("the trail writes to its own bucket", trail?.s3_bucket_name ===
  "${aws_s3_bucket.trail[0].id}");
const tpab = res("aws_s3_bucket_public_access_block", "trail");
check("trail bucket not public", tpab && ["block_public_acls", "block_public_policy",
  "ignore_public_acls", "restrict_public_buckets"].every((k) => tpab[k] === true));
const tpol = data("aws_iam_policy_document", "trail")?.statement || [];
check("only CloudTrail writes the trail bucket, for this trail", tpol.filter((s) =>
  (s.effect ?? "Allow") === "Allow").every((s) => s.principals[0].type === "Service" &&
  s.principals[0].identifiers[0] === "cloudtrail.amazonaws.com" && s.condition.some(
  (c) => c.variable === "aws:SourceArn")) && tpol.some((s) => s.effect === "Deny" &&
  s.condition[0].variable === "aws:SecureTransport"), tpol);

finish();

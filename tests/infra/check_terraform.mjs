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
check("replicated form: clients no longer reach the primary directly",
  res("aws_vpc_security_group_ingress_rule", "verifier").for_each ===
  "${local.replicated ? toset([]) : toset(var.verifier_cidrs)}");
// The instance's group: those three, and (replicated form) 443 from the
// load balancer's group only.
const instSg = "${aws_security_group.instance.id}";
const ingress = all("aws_vpc_security_group_ingress_rule").filter((r) =>
  r.security_group_id === instSg);
check("nothing else is open", ingress.length === 4 && ingress.filter((r) =>
  r.cidr_ipv4 !== undefined).length === 3, ingress.length);
const egress = all("aws_vpc_security_group_egress_rule").filter((r) =>
  r.security_group_id === instSg);
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

// --- The replicated form (tiles.tf, replicas.tf) ----------------------------
// Everything in it exists only with var.replicas >= 1: replicas = 0 keeps
// the single instance as it was.
const gated = "${local.replicated ? 1 : 0}";
check("replicas: a whole number, 0 by default", tf.variable.replicas?.[0]?.default === 0 &&
  tf.variable.replicas[0].validation !== undefined);
check("replicated is replicas > 0", Object.assign({}, ...tf.locals).replicated ===
  "${var.replicas > 0}");
const replicatedTypes = ["aws_s3_bucket", "aws_s3_bucket_versioning",
  "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
  "aws_s3_bucket_policy", "aws_cloudfront_distribution", "aws_cloudfront_origin_access_control",
  "aws_cloudfront_cache_policy", "aws_lb", "aws_lb_listener", "aws_lb_listener_rule",
  "aws_lb_target_group", "aws_autoscaling_group", "aws_launch_template",
  "aws_secretsmanager_secret", "aws_iam_role", "aws_iam_role_policy"];
const ungated = [];
for (const f of ["tiles.tf", "replicas.tf"]) {
  const j = await parse(f, texts[f] ?? "");
  for (const kind of ["resource", "data"])
    for (const [type, byName] of Object.entries(j[kind] || {}))
      for (const [n, [b]] of Object.entries(byName)) {
        const c = b.count ?? b.for_each;
        if (!(c === gated || /^\$\{local\.replicated \?/.test(c ?? "") ||
              /^\$\{local\.replicated && /.test(c ?? "")))
          ungated.push(`${type}.${n}`);
      }
}
check("tiles.tf, replicas.tf: every block only with replicas >= 1", ungated.length === 0 &&
  replicatedTypes.every((t) => Object.keys(tf.resource[t] || {}).length > 0), ungated);

// The tiles' bucket: private, encrypted, versioned, no public access.
const tpab2 = res("aws_s3_bucket_public_access_block", "tiles");
check("tiles bucket: public access blocked", tpab2 && ["block_public_acls",
  "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
  .every((k) => tpab2[k] === true), tpab2);
check("tiles bucket: versioned", res("aws_s3_bucket_versioning", "tiles")
  ?.versioning_configuration?.[0]?.status === "Enabled");
check("tiles bucket: encrypted", res("aws_s3_bucket_server_side_encryption_configuration",
  "tiles")?.rule?.[0]?.apply_server_side_encryption_by_default?.[0]?.sse_algorithm === "AES256");
check("tiles bucket: owner enforced (no ACLs)", res("aws_s3_bucket_ownership_controls",
  "tiles")?.rule?.[0]?.object_ownership === "BucketOwnerEnforced");
check("no public S3 anywhere: no ACL, no website, every bucket blocked",
  !tf.resource.aws_s3_bucket_acl && !tf.resource.aws_s3_bucket_website_configuration &&
  Object.keys(tf.resource.aws_s3_bucket).every((b) =>
    (tf.resource.aws_s3_bucket_public_access_block || {})[b] !== undefined),
  Object.keys(tf.resource.aws_s3_bucket));

// Its policy: the distribution reads, under the prefix, and nothing else
// is allowed to anyone; plain HTTP refused.
const tb = res("aws_s3_bucket_policy", "tiles");
check("tiles bucket policy from its document", tb?.policy ===
  "${data.aws_iam_policy_document.tiles[0].json}");
const tdoc = data("aws_iam_policy_document", "tiles")?.statement || [];
const tallow = tdoc.filter((s) => (s.effect ?? "Allow") === "Allow");
check("tiles bucket: only the distribution may read, only GetObject, only the prefix",
  tallow.length === 1 && JSON.stringify(tallow[0].actions) === '["s3:GetObject"]' &&
  tallow[0].principals?.length === 1 && tallow[0].principals[0].type === "Service" &&
  JSON.stringify(tallow[0].principals[0].identifiers) === '["cloudfront.amazonaws.com"]' &&
  JSON.stringify(tallow[0].resources) === '["${aws_s3_bucket.tiles[0].arn}/${local.tiles_prefix}/*"]' &&
  tallow[0].condition?.length === 1 && tallow[0].condition[0].test === "StringEquals" &&
  tallow[0].condition[0].variable.toLowerCase() === "aws:sourcearn" &&
  JSON.stringify(tallow[0].condition[0].values) === '["${aws_cloudfront_distribution.tiles[0].arn}"]',
  tallow);
check("tiles bucket refuses plain HTTP", tdoc.some((s) => s.effect === "Deny" &&
  s.condition?.[0]?.variable === "aws:SecureTransport" && s.condition[0].values[0] === "false"));

// The primary's role: write (and read, for the rollback check) only under
// the prefix; list only the prefix; never delete.
const tw = data("aws_iam_policy_document", "tiles_writer")?.statement || [];
const twp = res("aws_iam_role_policy", "tiles_writer");
check("tiles writer: attached to the primary's role", twp?.role === "${aws_iam_role.instance.id}" &&
  twp.policy === "${data.aws_iam_policy_document.tiles_writer[0].json}");
check("tiles writer: objects only under the prefix", tw.filter((s) => s.actions.some((a) =>
  a !== "s3:ListBucket")).every((s) => s.resources.every((r) =>
  r === "${aws_s3_bucket.tiles[0].arn}/${local.tiles_prefix}/*")), tw);
check("tiles writer: PutObject, GetObject, ListBucket and nothing else (no delete, no pattern)",
  JSON.stringify([...new Set(tw.flatMap((s) => s.actions))].sort()) ===
  '["s3:GetObject","s3:ListBucket","s3:PutObject"]' && (tw.every((s) => (s.effect ?? "Allow") === "Allow")), tw);
const twl = tw.find((s) => s.actions.includes("s3:ListBucket"));
check("tiles writer: listing only the prefix", twl?.actions.length === 1 &&
  JSON.stringify(twl.resources) === '["${aws_s3_bucket.tiles[0].arn}"]' &&
  twl.condition?.[0]?.variable === "s3:prefix" &&
  JSON.stringify(twl.condition[0].values) === '["${local.tiles_prefix}/*"]', twl);

// CloudFront: origin access control signing every request, the bucket as
// origin under the prefix, HTTPS only, GET/HEAD only.
const oac = res("aws_cloudfront_origin_access_control", "tiles");
check("OAC: S3, always signed, SigV4", oac?.origin_access_control_origin_type === "s3" &&
  oac.signing_behavior === "always" && oac.signing_protocol === "sigv4", oac);
const dist = res("aws_cloudfront_distribution", "tiles");
const origin = dist?.origin?.[0];
check("distribution: one origin, the tiles bucket through the OAC, under the prefix",
  dist?.origin?.length === 1 && origin.domain_name ===
  "${aws_s3_bucket.tiles[0].bucket_regional_domain_name}" &&
  origin.origin_access_control_id === "${aws_cloudfront_origin_access_control.tiles[0].id}" &&
  origin.origin_path === "/${local.tiles_prefix}" && !origin.s3_origin_config &&
  !origin.custom_origin_config, origin);
const behaviours = [...(dist?.ordered_cache_behavior || []), dist?.default_cache_behavior?.[0]];
check("distribution: every behaviour HTTPS only, GET and HEAD only", behaviours.every((b) =>
  b && b.viewer_protocol_policy === "https-only" &&
  JSON.stringify(b.allowed_methods) === '["GET","HEAD"]'), behaviours);
// Which cache policy a path gets: CloudFront takes the first ordered
// behaviour whose pattern matches (* any characters, ? one), else the
// default.
const glob = (p) => new RegExp("^" + p.replace(/^\//, "").replace(/[.+^${}()|[\]\\]/g, "\\$&")
  .replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
const policyOf = (path) => (dist.ordered_cache_behavior.find((b) =>
  glob(b.path_pattern).test(path)) ?? dist.default_cache_behavior[0]).cache_policy_id;
const IMM = "${aws_cloudfront_cache_policy.immutable[0].id}";
const SHORT = "${aws_cloudfront_cache_policy.short[0].id}";
const want = {
  "checkpoint": SHORT,
  "tile/0/000": IMM, "tile/0/x001/x234/067": IMM, "tile/3/000": IMM,
  "tile/entries/000": IMM, "tile/entries/x001/255": IMM,
  "tile/0/000.p/5": SHORT, "tile/1/x002/003.p/255": SHORT,
  "tile/entries/000.p/1": SHORT, "tile/entries/x001/x234/067.p/200": SHORT,
  "anything/else": SHORT,
};
const wrong = Object.entries(want).filter(([p, w]) => policyOf(p) !== w)
  .map(([p]) => `${p}: ${policyOf(p)}`);
check("cache behaviours: full tiles immutable; partial tiles, checkpoint and the rest short",
  wrong.length === 0, wrong);
const cp = (n) => res("aws_cloudfront_cache_policy", n);
check("immutable policy: a year, min = default = max", cp("immutable")?.min_ttl ===
  "${local.tiles_ttl_immutable}" && cp("immutable").default_ttl === cp("immutable").min_ttl &&
  cp("immutable").max_ttl === cp("immutable").min_ttl &&
  Object.assign({}, ...tf.locals).tiles_ttl_immutable === 31536000, cp("immutable"));
check("short policy: at most tiles_checkpoint_ttl, from 0", cp("short")?.min_ttl === 0 &&
  cp("short").max_ttl === "${local.tiles_ttl_short}" &&
  Object.assign({}, ...tf.locals).tiles_ttl_short === "${var.tiles_checkpoint_ttl}" &&
  tf.variable.tiles_checkpoint_ttl?.[0]?.default <= 60, cp("short"));
check("cache keys hold no query, header or cookie", ["immutable", "short"].every((n) => {
  const k = cp(n)?.parameters_in_cache_key_and_forwarded_to_origin?.[0];
  return k?.cookies_config?.[0]?.cookie_behavior === "none" &&
    k.headers_config?.[0]?.header_behavior === "none" &&
    k.query_strings_config?.[0]?.query_string_behavior === "none";
}));

// The load balancer: internet-facing, HTTPS with a modern policy, the
// replicas by default, the two writes to the primary.
const lb = res("aws_lb", "replicas");
check("ALB: internet-facing application load balancer, invalid headers dropped",
  lb?.internal === false && lb.load_balancer_type === "application" &&
  lb.drop_invalid_header_fields === true && JSON.stringify(lb.security_groups) ===
  '["${aws_security_group.alb[0].id}"]', lb);
const lis = all("aws_lb_listener");
check("ALB: one listener, HTTPS on 443, TLS 1.2+ policy, a certificate", lis.length === 1 &&
  lis[0].port === 443 && lis[0].protocol === "HTTPS" && /TLS13-1-2/.test(lis[0].ssl_policy) &&
  lis[0].certificate_arn === "${var.certificate_arn}", lis);
check("ALB: by default to the replicas", lis[0]?.default_action?.[0]?.type === "forward" &&
  lis[0].default_action[0].target_group_arn === "${aws_lb_target_group.replicas[0].arn}");
const rules = all("aws_lb_listener_rule");
const wr = res("aws_lb_listener_rule", "writes");
const conds = wr?.condition || [];
check("ALB: one rule, POST to /api/v1/releases and below goes to the primary",
  rules.length === 1 && conds.length === 2 &&
  JSON.stringify(conds.find((c) => c.http_request_method)?.http_request_method?.[0]?.values) === '["POST"]' &&
  JSON.stringify(conds.find((c) => c.path_pattern)?.path_pattern?.[0]?.values) ===
  '["/api/v1/releases","/api/v1/releases/*"]' &&
  wr.action?.[0]?.type === "forward" &&
  wr.action[0].target_group_arn === "${aws_lb_target_group.primary[0].arn}", wr);
// The rule's paths, tried as ALB path patterns: the two writes match, a
// read elsewhere does not (and a GET of them fails the method condition).
const albMatch = (path) => conds.find((c) => c.path_pattern)?.path_pattern[0].values
  .some((p) => glob(p).test(path.replace(/^\//, "")));
check("ALB rule: the write paths match, others do not", albMatch("/api/v1/releases") &&
  albMatch("/api/v1/releases/0123456789abcdef/revoke") && !albMatch("/api/v1/verify") &&
  !albMatch("/api/v1/challenge") && !albMatch("/api/v1/log/checkpoint"));
const tgr = res("aws_lb_target_group", "replicas");
const tgp = res("aws_lb_target_group", "primary");
check("replicas' target group: /readyz, 200 only", tgr?.health_check?.[0]?.path === "/readyz" &&
  tgr.health_check[0].matcher === "200" && tgr.port === "${var.replica_port}", tgr);
check("replicas' target group: sticky for a nonce's life (per-host used-nonce store)",
  tgr?.stickiness?.[0]?.type === "lb_cookie" && tgr.stickiness[0].enabled === true &&
  tgr.stickiness[0].cookie_duration === "${var.nonce_ttl}", tgr?.stickiness);
check("primary's target group: HTTPS to its nginx, /readyz", tgp?.protocol === "HTTPS" &&
  tgp.port === 443 && tgp.health_check?.[0]?.path === "/readyz" &&
  res("aws_lb_target_group_attachment", "primary")?.target_id === "${aws_instance.parent.id}", tgp);

// The autoscaling group: health from the load balancer (/readyz).
const asg = res("aws_autoscaling_group", "replicas");
check("ASG: health check type ELB, in the replicas' target group", asg?.health_check_type === "ELB" &&
  JSON.stringify(asg.target_group_arns) === '["${aws_lb_target_group.replicas[0].arn}"]' &&
  asg.min_size === "${var.replicas}" && asg.desired_capacity === "${var.replicas}", asg);
check("ASG: in the replicas' subnets (two zones)", asg?.vpc_zone_identifier ===
  "${aws_subnet.replicas[*].id}" && tf.variable.replica_subnet_cidrs?.[0]?.default?.length >= 2);
const lt = res("aws_launch_template", "replica");
check("launch template: IMDSv2 only, encrypted disk, the replicas' group and profile",
  lt?.metadata_options?.[0]?.http_tokens === "required" &&
  lt.metadata_options[0].http_put_response_hop_limit === 1 &&
  lt.block_device_mappings?.[0]?.ebs?.[0]?.encrypted === true &&
  JSON.stringify(lt.vpc_security_group_ids) === '["${aws_security_group.replica[0].id}"]' &&
  lt.iam_instance_profile?.[0]?.arn === "${aws_iam_instance_profile.replica[0].arn}", lt);
check("launch template: the user data mirrors the distribution, with the shared challenge key",
  /mirror_url\s*=\s*"https:\/\/\$\{aws_cloudfront_distribution\.tiles\[0\]\.domain_name\}\/"/.test(texts["replicas.tf"]) &&
  /challenge_secret\s*=\s*aws_secretsmanager_secret\.challenge_key\[0\]\.arn/.test(texts["replicas.tf"]) &&
  /templatefile\(.*replica-user-data\.sh\.tftpl/.test(lt?.user_data ?? ""));
const tpl = fs.readFileSync(path.join(dir, "replica-user-data.sh.tftpl"), "utf8");
check("replica user data: runs setup-replica.sh with the mirror URL and the secret",
  /GLASSBOX_MIRROR_URL="\$\{mirror_url\}"/.test(tpl) &&
  /GLASSBOX_CHALLENGE_SECRET="\$\{challenge_secret\}"/.test(tpl) &&
  /bootstrap\/setup-replica\.sh/.test(tpl));

// Terraform's templatefile fails on a variable the map lacks; a key the
// template never uses is a setting that goes nowhere.
const tplMap = /templatefile\("\$\{path\.module\}\/replica-user-data\.sh\.tftpl", \{([\s\S]*?)\}\)\)/
  .exec(texts["replicas.tf"])?.[1] ?? "";
const mapKeys = [...tplMap.matchAll(/^\s*(\w+)\s*=/gm)].map((m) => m[1]).sort();
const tplVars = [...new Set([...tpl.matchAll(/(?<!\$)\$\{(\w+)\}/g)].map((m) => m[1]))].sort();
check("replica user data: its variables are the templatefile map's, one for one",
  mapKeys.length > 0 && JSON.stringify(mapKeys) === JSON.stringify(tplVars), { mapKeys, tplVars });

// The replicas' role: the bootstrap and the one secret.
const rp = data("aws_iam_policy_document", "replica")?.statement || [];
check("replicas' role: s3:GetObject on bootstrap/*, GetSecretValue on the challenge key, nothing else",
  JSON.stringify(rp.map((s) => [s.actions, s.resources])) === JSON.stringify([
    [["s3:GetObject"], ["${aws_s3_bucket.images.arn}/bootstrap/*"]],
    [["secretsmanager:GetSecretValue"], ["${aws_secretsmanager_secret.challenge_key[0].arn}"]]]), rp);

// Security groups: least privilege, by reference between groups.
const rules2 = (kind, sg) => all(`aws_vpc_security_group_${kind}_rule`).filter((r) =>
  r.security_group_id === sg);
const albIn = rules2("ingress", "${aws_security_group.alb[0].id}");
const albOut = rules2("egress", "${aws_security_group.alb[0].id}");
const repIn = rules2("ingress", "${aws_security_group.replica[0].id}");
const repOut = rules2("egress", "${aws_security_group.replica[0].id}");
check("ALB group: in, 443 from verifier_cidrs only", albIn.length === 1 &&
  albIn[0].from_port === 443 && albIn[0].to_port === 443 && albIn[0].cidr_ipv4 === "${each.value}" &&
  res("aws_vpc_security_group_ingress_rule", "alb_https").for_each ===
  "${local.replicated ? toset(var.verifier_cidrs) : toset([])}", albIn);
check("ALB group: out, only to the replicas' port and the primary's 443, by group",
  albOut.length === 2 && albOut.every((r) => r.cidr_ipv4 === undefined) &&
  albOut.some((r) => r.referenced_security_group_id === "${aws_security_group.replica[0].id}" &&
    r.from_port === "${var.replica_port}" && r.to_port === "${var.replica_port}") &&
  albOut.some((r) => r.referenced_security_group_id === "${aws_security_group.instance.id}" &&
    r.from_port === 443 && r.to_port === 443), albOut);
check("replicas' group: in, only the verifier's port from the ALB's group", repIn.length === 1 &&
  repIn[0].referenced_security_group_id === "${aws_security_group.alb[0].id}" &&
  repIn[0].from_port === "${var.replica_port}" && repIn[0].cidr_ipv4 === undefined, repIn);
check("replicas' group: out, HTTPS only", repOut.length === 1 && repOut[0].from_port === 443 &&
  repOut[0].to_port === 443 && repOut[0].ip_protocol === "tcp", repOut);
const pIn = res("aws_vpc_security_group_ingress_rule", "primary_from_alb");
check("primary's group: 443 from the ALB's group (the writes)", pIn?.security_group_id === instSg &&
  pIn.referenced_security_group_id === "${aws_security_group.alb[0].id}" && pIn.from_port === 443 &&
  pIn.cidr_ipv4 === undefined, pIn);

check("outputs of the replicated form", ["tiles_bucket", "tiles_url", "lb_dns_name",
  "challenge_key_secret"].every((o) => tf.output[o]));

finish();

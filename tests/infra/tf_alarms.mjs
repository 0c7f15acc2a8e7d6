// infra/terraform/alarms.tf, parsed by @cdktf/hcl2json and expanded as
// Terraform would (for_each over local.alarms, local.name and the
// variables' defaults, or the values given), into the parameters of
// CloudWatch's PutMetricAlarm: what `terraform apply` would ask for.
//
// usage: node tf_alarms.mjs TF_DIR NAME [ALARM_ACTION...]
//          prints [{AlarmName, Namespace, MetricName, Dimensions, ...}]
//        node tf_alarms.mjs TF_DIR NAME --compare DESCRIBE_ALARMS_JSON
//          checks that the alarms AWS (here moto) holds, as
//          `aws cloudwatch describe-alarms` prints them, are these, field
//          for field (deploy-aws.sh makes its own: they must agree)
import fs from "node:fs";
import path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { check, finish } from "../harness.mjs";

const [dir, name, ...rest] = process.argv.slice(2);
const text = (f) => fs.readFileSync(path.join(dir, f), "utf8");
const alarmsTf = await parse("alarms.tf", text("alarms.tf"));
const varsTf = await parse("variables.tf", text("variables.tf"));

// ${...} references this file uses; anything else is an error, so that a
// new reference is noticed here rather than silently left as text.
const compare = rest[0] === "--compare";
const actions = compare ? [] : rest;
const locals = Object.assign({}, ...alarmsTf.locals);
const vars = {};
for (const [k, v] of Object.entries(varsTf.variable)) vars[k] = v[0].default;
vars.alarm_actions = actions;
const scope = { "local.name": name, "local.metrics_namespace": locals.metrics_namespace };

function value(v, each) {
  if (typeof v !== "string") return v;
  const m = /^\$\{([^}]+)\}$/.exec(v);
  if (m) {
    const ref = m[1];
    if (ref.startsWith("each.value.")) return each.value[ref.slice(11)];
    if (ref === "each.key") return each.key;
    if (ref.startsWith("var.")) return vars[ref.slice(4)];
    if (ref in scope) return scope[ref];
    throw new Error(`unknown reference ${ref}`);
  }
  return v.replace(/\$\{([^}]+)\}/g, (_, ref) => String(value("${" + ref + "}", each)));
}

const out = [];
for (const [rname, bodies] of Object.entries(alarmsTf.resource.aws_cloudwatch_metric_alarm)) {
  const r = bodies[0];
  const items = r.for_each === "${local.alarms}" ? Object.entries(locals.alarms) : [[rname, {}]];
  for (const [key, v] of items) {
    const each = { key, value: v };
    const dims = value(r.dimensions, each);
    out.push({
      AlarmName: value(r.alarm_name, each),
      AlarmDescription: value(r.alarm_description, each),
      Namespace: value(r.namespace, each),
      MetricName: value(r.metric_name, each),
      Dimensions: Object.entries(dims).map(([k, x]) => ({ Name: k, Value: value(x, each) })),
      Statistic: value(r.statistic, each),
      Period: value(r.period, each),
      EvaluationPeriods: value(r.evaluation_periods, each),
      DatapointsToAlarm: value(r.datapoints_to_alarm, each),
      ComparisonOperator: value(r.comparison_operator, each),
      Threshold: value(r.threshold, each),
      TreatMissingData: value(r.treat_missing_data, each),
      AlarmActions: value(r.alarm_actions, each),
      OKActions: value(r.ok_actions, each),
    });
  }
}

if (!compare) {
  console.log(JSON.stringify(out, null, 1));
} else {
  const held = JSON.parse(fs.readFileSync(rest[1], "utf8")).MetricAlarms;
  check("as many alarms as alarms.tf makes", held.length === out.length,
    [held.length, out.length]);
  for (const want of out) {
    const got = held.find((a) => a.AlarmName === want.AlarmName);
    check(`${want.AlarmName}: made`, got !== undefined);
    if (got === undefined) continue;
    for (const [k, v] of Object.entries(want)) {
      const g = got[k] ?? (Array.isArray(v) ? [] : undefined);
      check(`${want.AlarmName}: ${k} as alarms.tf says`,
        JSON.stringify(g) === JSON.stringify(v), { got: g, want: v });
    }
  }
  finish();
}

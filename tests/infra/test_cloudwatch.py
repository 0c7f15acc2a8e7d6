#!/usr/bin/env python3
"""infra/cloudwatch, tested offline:

1. The agent's configuration, rendered as setup-parent.sh renders it, is
   valid against tests/infra/cloudwatch-agent.schema.json (written from the
   fields the CloudWatch user guide documents), and misspelt or out-of-range
   variants are not.
2. It fits the rest of infra/: every daemon's log file is the one its
   glassbox-logs@ copier writes, the scrape targets are the ports
   setup-parent.sh gives the parent's health port and the verifier, the
   log groups are Terraform's.
3. The real programs (an enclave with the simulated NSM behind a real
   glassbox-parent, a real glassbox-verifier with a real registry) are
   scraped every "minute" by an emulation of the agent's documented
   pipeline (Prometheus scrape; counters sent as the difference from the
   previous scrape, gauges as they are, histograms dropped; metric
   declarations selecting metrics and dimensions; embedded metric format),
   the events go to moto_server's CloudWatch Logs and their metrics to its
   CloudWatch, and the alarms of infra/terraform/alarms.tf are created
   there with boto3. Then each alarm must watch a metric that exists, and,
   evaluated over the data as CloudWatch evaluates it, fire exactly when
   its condition holds: the enclave stopped, the log damaged, the verifier
   gone.

usage: test_cloudwatch.py GLASSBOX VERIFIER PARENT ENCLAVE
"""
import base64
import copy
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from harness import check, finish  # noqa: E402

GB, VERIFIER, PARENT, ENCLAVE = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="glassbox-cw-")
NAME = "glassbox"                       # setup-parent.sh's default deployment
procs = []


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


# --- 1. the configuration against the schema --------------------------------
setup = read("infra", "scripts", "setup-parent.sh")
m = re.search(r'sed -e "s\|@LOG_GROUP@\|\$log_group\|g" -e "s\|@METRICS_LOG_GROUP@\|\$metrics_group\|g"', setup)
check("setup-parent.sh renders the agent configuration's two log groups", m is not None)
check("setup-parent.sh renders the scrape configuration's deployment",
      'sed -e "s|@DEPLOYMENT@|$name|g" "$share/cloudwatch/prometheus.yaml"' in setup)
check("setup-parent.sh's defaults: /NAME/instance, /NAME/metrics",
      "log_group=${GLASSBOX_LOG_GROUP:-/$name/instance}" in setup and
      "metrics_group=${GLASSBOX_METRICS_LOG_GROUP:-/$name/metrics}" in setup)
LOG_GROUP, METRICS_GROUP = f"/{NAME}/instance", f"/{NAME}/metrics"
cfg_text = read("infra", "cloudwatch", "amazon-cloudwatch-agent.json")
cfg = json.loads(cfg_text.replace("@LOG_GROUP@", LOG_GROUP).replace("@METRICS_LOG_GROUP@", METRICS_GROUP))
prom = yaml.safe_load(read("infra", "cloudwatch", "prometheus.yaml").replace("@DEPLOYMENT@", NAME))
schema = json.loads(read("tests", "infra", "cloudwatch-agent.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
errors = [e.message for e in validator.iter_errors(cfg)]
check("the agent configuration is valid", not errors, errors)
check("... and the template has no placeholder left once rendered", "@" not in json.dumps(cfg))

FILES = ["logs", "logs_collected", "files", "collect_list"]
PROM = ["logs", "metrics_collected", "prometheus"]


def at(doc, path):
    for k in path:
        doc = doc[k]
    return doc


# Each mutation must be refused: a misspelt key anywhere, a missing or
# malformed required value, a value outside what the guide allows.
mutations = {
    "a misspelt top-level section": lambda c: c.update(log=c.pop("logs")),
    "a misspelt agent field": lambda c: c["agent"].update(run_as=c["agent"].pop("run_as_user")),
    "a misspelt file field": lambda c: at(c, FILES)[0].update(filepath=at(c, FILES)[0].pop("file_path")),
    "a file without file_path": lambda c: at(c, FILES)[0].pop("file_path"),
    "a relative file_path": lambda c: at(c, FILES)[0].update(file_path="var/log/x.log"),
    "an empty collect_list": lambda c: at(c, FILES[:-1]).update(collect_list=[]),
    "a log group with a space": lambda c: at(c, FILES)[0].update(log_group_name="/glassbox/my logs"),
    "an unknown placeholder": lambda c: at(c, FILES)[0].update(log_group_name="/glassbox/{instance}"),
    "a log group of 513 characters": lambda c: at(c, FILES)[0].update(log_group_name="/" + "a" * 512),
    "a log stream with a colon": lambda c: at(c, FILES)[0].update(log_stream_name="a:b"),
    "timezone utc in lower case": lambda c: at(c, FILES)[0].update(timezone="utc"),
    "an unknown encoding": lambda c: at(c, FILES)[0].update(encoding="utf8"),
    "a string for force_flush_interval": lambda c: c["logs"].update(force_flush_interval="5"),
    "prometheus without its scrape configuration": lambda c: at(c, PROM).pop("prometheus_config_path"),
    "a misspelt emf_processor field": lambda c: at(c, PROM)["emf_processor"].update(
        metric_namespaces="Glassbox"),
    "a unit CloudWatch does not know": lambda c: at(c, PROM)["emf_processor"]["metric_unit"].update(
        EnclaveRunning="Boolean"),
    "a declaration without dimensions": lambda c: at(c, PROM)["emf_processor"]["metric_declaration"][0].pop(
        "dimensions"),
    "a dimension set of 31": lambda c: at(c, PROM)["emf_processor"]["metric_declaration"][0].update(
        dimensions=[[f"d{i}" for i in range(31)]]),
    "a namespace of 256 characters": lambda c: at(c, PROM)["emf_processor"].update(metric_namespace="N" * 256),
    "Windows events (not described)": lambda c: c["logs"]["logs_collected"].update(
        windows_events={"collect_list": []}),
}
for what, mutate in mutations.items():
    c = copy.deepcopy(cfg)
    mutate(c)
    check(f"schema refuses {what}", not validator.is_valid(c))

decls = at(cfg, PROM)["emf_processor"]["metric_declaration"]
bad = [x for d in decls for x in [d["label_matcher"], *d["metric_selectors"]] if not re.compile(x)]
check("every label_matcher and metric selector is a regular expression", not bad)
check("every selected metric has a unit", all(
    any(re.search(sel, u) for u in at(cfg, PROM)["emf_processor"]["metric_unit"])
    for d in decls for sel in d["metric_selectors"]))

# --- 2. the configuration fits infra/ ----------------------------------------
units = sorted(f for f in os.listdir(os.path.join(REPO, "infra", "systemd")))
# The daemons setup-parent.sh enables (glassbox-vsock-proxy.service is
# shipped for hosts that run it instead of the parent's own outbound, and
# not enabled: docs/parent.md).
enabled = " ".join(m.group(0) for m in re.finditer(r"systemctl enable(?:[^\n]|\\\n)*", setup))
daemons = sorted(u[len("glassbox-"):-len(".service")] for u in units
                 if u.startswith("glassbox-") and "@" not in u and u in enabled)
copier = read("infra", "systemd", "glassbox-logs@.service")
out_tpl = re.search(r"^StandardOutput=append:(\S+)$", copier, re.M).group(1)
files = {e["file_path"]: e for e in at(cfg, FILES)}
check("the daemons are the enclave runner, the parent and the verifier",
      daemons == ["enclave", "parent", "verifier"], daemons)
for d in daemons:
    path = out_tpl.replace("%i", d)
    e = files.get(path)
    check(f"{d}: its copier's file is shipped", e is not None, (path, list(files)))
    check(f"{d}: to the instance's log group, a stream of its own",
          e is not None and e.get("log_group_name") == LOG_GROUP and
          e.get("log_stream_name") == "{instance_id}/glassbox-" + d, e)
    check(f"{d}: setup-parent.sh enables its copier", f"glassbox-logs@{d}.service" in setup)
    check(f"{d}: setup-parent.sh makes its file readable by the agent",
          'install -m 0644 /dev/null "/var/log/glassbox/$d.log"' in setup)
check("the bootstrap's log is shipped", "/var/log/glassbox-bootstrap.log" in files)
check("the metrics go to their own log group", at(cfg, PROM)["log_group_name"] == METRICS_GROUP)
check("the agent reads the scrape configuration setup-parent.sh installs",
      at(cfg, PROM)["prometheus_config_path"] == "/opt/aws/amazon-cloudwatch-agent/etc/glassbox-prometheus.yaml"
      and '>"$cwa/etc/glassbox-prometheus.yaml"' in setup)
iam = read("infra", "terraform", "iam.tf")
check("Terraform makes both log groups with these names",
      'name              = "/${local.name}/instance"' in iam and 'name              = "/${local.name}/metrics"' in iam)
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
# parent.conf is written by parent-config.sh (setup-parent.sh runs it).
health = re.search(r"^health = (\S+)$", read("infra", "scripts", "parent-config.sh"),
                   re.M).group(1)
listen = re.search(r"^listen = (\S+)$", setup, re.M).group(1)
check("the parent's health port is scraped",
      jobs["glassbox-parent"]["static_configs"][0]["targets"] == [health], (health, jobs))
check("the verifier is scraped", jobs["glassbox-verifier"]["static_configs"][0]["targets"] == [listen])
check("every series carries the Deployment label", all(
    sc["labels"] == {"Deployment": NAME} for j in jobs.values() for sc in j["static_configs"]))
check("no metric is renamed at scrape time (the agent would lose its type)",
      all("metric_relabel_configs" not in j and "relabel_configs" not in j for j in jobs.values()))
check("the scrape timeout covers the parent's slowest /metrics (5 + 2 s and probes)",
      prom["global"]["scrape_timeout"] == "15s")

# --- 3. the real programs, the emulated agent, moto ---------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port):
    for _ in range(300):                        # bounded: 30 s
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=kw.pop("stderr", subprocess.DEVNULL),
                         text=True, **kw)
    procs.append(p)
    return p


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


# The enclave (simulated NSM) on a Unix socket, the parent forwarding to it.
with open(os.path.join(TMP, "pcrs.json"), "w") as f:
    json.dump({"pcrs": {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}}, f)
esock = os.path.join(TMP, "enclave.sock")
enc = start([ENCLAVE, "--nsm", "sim", "--state", os.path.join(TMP, "sim"), "--pcrs",
             os.path.join(TMP, "pcrs.json"), "--listen", "unix:" + esock])
while not enc.stdout.readline().startswith("listening on"):
    pass
DESCRIBE = os.path.join(TMP, "describe.json")
with open(os.path.join(TMP, "describe.sh"), "w") as f:
    f.write(f"#!/bin/sh\ncat {DESCRIBE}\n")
os.chmod(os.path.join(TMP, "describe.sh"), 0o755)


def describe(state):
    with open(DESCRIBE, "w") as f:
        json.dump([{"EnclaveName": "glassbox", "EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef",
                    "EnclaveCID": 16, "NumberOfCPUs": 2, "MemoryMiB": 2048, "State": state,
                    "Flags": "NONE"}], f)


describe("RUNNING")
hport, fport, vport = free_port(), free_port(), free_port()
plog = open(os.path.join(TMP, "parent.log"), "w+")
parent = start([PARENT, "--forward", f"tcp:127.0.0.1:{fport}=unix:{esock}", "--health",
                f"127.0.0.1:{hport}", "--describe-cmd", os.path.join(TMP, "describe.sh"),
                "--enclave-name", "glassbox"], stderr=plog)
check("the parent runs", wait_port(hport) and wait_port(fport))

# A registry with one release, signed with a gpg key made here.
GNUPG = os.path.join(TMP, "gnupg")
os.mkdir(GNUPG, 0o700)
env = dict(os.environ, GNUPGHOME=GNUPG)
DB = os.path.join(TMP, "registry.db")
run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "RM <rm@example.com>", "ed25519", "sign", "1y",
    env=env)
with open(os.path.join(TMP, "rm.asc"), "w") as f:
    f.write(run("gpg", "--batch", "--armor", "--export", "rm@example.com", env=env).stdout)
run(GB, "registry", "--db", DB, "init", "--origin", "cw.glassbox.test/log", env=env)
run(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc"), env=env)
stmt = os.path.join(TMP, "app.json")
with open(stmt, "w") as f:
    json.dump({"name": "app", "version": "1.0", "pcrs": {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}}, f)
run("gpg", "--batch", "--yes", "--armor", "--local-user", "rm@example.com", "--detach-sign", stmt, env=env)
r = run(GB, "registry", "--db", DB, "publish", stmt, stmt + ".asc", env=env)
check("a release is published", r.returncode == 0, r.stderr)
vlog = open(os.path.join(TMP, "verifier.log"), "w+")
verifier = start([VERIFIER, "--db", DB, "--listen", f"127.0.0.1:{vport}", "--audit-interval", "1"],
                 stderr=vlog, env=env)
check("the verifier runs", wait_port(vport))
for _ in range(300):                            # bounded: the first audit
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{vport}/readyz", timeout=10) as resp:
            if resp.status == 200:
                break
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.1)

TARGETS = {"glassbox-parent": f"127.0.0.1:{hport}", "glassbox-verifier": f"127.0.0.1:{vport}"}


class Agent:
    """The agent's Prometheus pipeline as the user guide describes it:
    scrape each job, add its static labels and job/instance; keep what a
    metric declaration selects (source labels joined by ';' matching its
    label_matcher, the name matching a selector), with each dimension set
    the sample has every label of; counters as the difference from the
    previous scrape (none on the first), gauges as they are, other types
    dropped; one embedded-metric-format event per series."""

    def __init__(self, cfg, prom):
        self.emf = at(cfg, PROM)["emf_processor"]
        self.jobs = prom["scrape_configs"]
        self.last = {}
        self.dropped = set()

    def scrape(self, job):
        url = "http://" + TARGETS[job["job_name"]] + job.get("metrics_path", "/metrics")
        try:
            with urllib.request.urlopen(url, timeout=15) as resp:
                text = resp.read().decode()
        except OSError:
            return []                           # a failed scrape sends nothing
        types, out = {}, []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ", 3)
                types[name] = typ
            elif line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                name, _, rest = series.partition("{")
                labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"', rest))
                labels.update(job["static_configs"][0]["labels"], job=job["job_name"],
                              instance=TARGETS[job["job_name"]])
                fam = name
                for suffix in ("_bucket", "_sum", "_count"):
                    if name not in types and name.endswith(suffix):
                        fam = name[:-len(suffix)]
                out.append((name, types.get(fam, "untyped"), labels, float(value)))
        return out

    def events(self, ts_ms):
        evs = []
        for job in self.jobs:
            for name, typ, labels, value in self.scrape(job):
                if typ not in ("counter", "gauge"):
                    self.dropped.add(name)
                    continue
                key = (name, tuple(sorted(labels.items())))
                if typ == "counter":
                    prev = self.last.get(key)
                    self.last[key] = value
                    if prev is None or value < prev:
                        continue
                    value -= prev
                dims = []
                for d in self.emf["metric_declaration"]:
                    src = ";".join(labels.get(x, "") for x in d["source_labels"])
                    if re.search(d["label_matcher"], src) and \
                            any(re.search(s, name) for s in d["metric_selectors"]):
                        dims += [ds for ds in d["dimensions"] if all(x in labels for x in ds)]
                if not dims:
                    continue
                ev = dict(labels)
                ev.update({name: value, "Timestamp": str(ts_ms), "Version": "0",
                           "prom_metric_type": typ, "CloudWatchMetrics": [{
                               "Namespace": self.emf["metric_namespace"], "Dimensions": dims,
                               "Metrics": [{"Name": name, "Unit": self.emf["metric_unit"].get(name, "None")}]}]})
                evs.append(ev)
        return evs


# moto_server on 127.0.0.1; the log groups and alarms as Terraform makes them.
mport = free_port()
moto = start(["moto_server", "-H", "127.0.0.1", "-p", str(mport)])
check("moto_server runs", wait_port(mport))
aws = dict(endpoint_url=f"http://127.0.0.1:{mport}", region_name="eu-west-1",
           aws_access_key_id="testing", aws_secret_access_key="testing")
logs = boto3.client("logs", **aws)
cw = boto3.client("cloudwatch", **aws)
for g in (LOG_GROUP, METRICS_GROUP):
    logs.create_log_group(logGroupName=g)
r = run("node", os.path.join(HERE, "tf_alarms.mjs"), os.path.join(REPO, "infra", "terraform"), NAME,
        "arn:aws:sns:eu-west-1:123456789012:glassbox-oncall")
alarms = json.loads(r.stdout) if r.returncode == 0 else []
check("alarms.tf expands to three alarms", len(alarms) == 3, r.stderr)
for a in alarms:
    cw.put_metric_alarm(**a)
held = cw.describe_alarms(AlarmNamePrefix=NAME + "-")["MetricAlarms"]
check("the alarms are created in CloudWatch (moto)", sorted(a["AlarmName"] for a in held) ==
      [f"{NAME}-enclave-down", f"{NAME}-log-damaged", f"{NAME}-verifier-not-ready"], held)

# The daemons' log lines, as the agent would ship them, to the streams the
# configuration names (instance i-0123456789abcdef0).
INSTANCE = "i-0123456789abcdef0"


def ship_logs():
    for path, fh in ((os.path.join(TMP, "parent.log"), plog), (os.path.join(TMP, "verifier.log"), vlog)):
        d = "parent" if fh is plog else "verifier"
        fh.flush()
        lines = [ln for ln in open(path).read().splitlines() if ln.strip()]
        e = files[out_tpl.replace("%i", d)]
        stream = e["log_stream_name"].replace("{instance_id}", INSTANCE)
        try:
            logs.create_log_stream(logGroupName=e["log_group_name"], logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        now = int(time.time() * 1000)
        if lines:
            logs.put_log_events(logGroupName=e["log_group_name"], logStreamName=stream,
                                logEvents=[{"timestamp": now, "message": ln} for ln in lines[-500:]])
        yield d, lines


BASE = int(time.time()) // 60 * 60 - 3600       # minute-aligned, an hour ago
agent = Agent(cfg, prom)
rounds = 0
emf_events = 0


def minute():
    """One scrape round, one minute after the previous one: EMF events to
    the metrics log group, their metrics to CloudWatch as CloudWatch Logs
    extracts them."""
    global rounds, emf_events
    ts = BASE + 60 * rounds
    rounds += 1
    evs = agent.events(ts * 1000)
    if not evs:
        return
    try:
        logs.create_log_stream(logGroupName=METRICS_GROUP, logStreamName=INSTANCE)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=METRICS_GROUP, logStreamName=INSTANCE,
                        logEvents=[{"timestamp": ts * 1000, "message": json.dumps(e)} for e in evs])
    emf_events += len(evs)
    for e in evs:
        for d in e["CloudWatchMetrics"]:
            for mt in d["Metrics"]:
                for ds in d["Dimensions"]:
                    cw.put_metric_data(Namespace=d["Namespace"], MetricData=[{
                        "MetricName": mt["Name"], "Unit": mt["Unit"], "Value": e[mt["Name"]],
                        "Timestamp": datetime.datetime.fromtimestamp(ts, datetime.timezone.utc),
                        "Dimensions": [{"Name": x, "Value": e[x]} for x in ds]}])


def series(metric, dims, stat="Sum"):
    """The metric's per-minute values over all rounds so far (None where a
    minute has no data)."""
    st = cw.get_metric_statistics(
        Namespace="Glassbox", MetricName=metric, Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=datetime.datetime.fromtimestamp(BASE, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(BASE + 60 * rounds, datetime.timezone.utc),
        Period=60, Statistics=[stat])["Datapoints"]
    by = {int(p["Timestamp"].timestamp()): p[stat] for p in st}
    return [by.get(BASE + 60 * i) for i in range(rounds)]


def evaluate(a):
    """The alarm's state after the last round, as CloudWatch evaluates it:
    the last EvaluationPeriods minutes, ALARM when DatapointsToAlarm of
    them breach; a minute without data breaches or not as TreatMissingData
    says."""
    vals = series(a["MetricName"], {d["Name"]: d["Value"] for d in a["Dimensions"]},
                  a["Statistic"])[-a["EvaluationPeriods"]:]
    op = {"LessThanThreshold": lambda v: v < a["Threshold"],
          "GreaterThanOrEqualToThreshold": lambda v: v >= a["Threshold"]}[a["ComparisonOperator"]]
    breaching = sum(1 for v in vals if (a["TreatMissingData"] == "breaching") if v is None) + \
        sum(1 for v in vals if v is not None and op(v))
    return "ALARM" if breaching >= a["DatapointsToAlarm"] else "OK"


def states():
    return {a["AlarmName"][len(NAME) + 1:]: evaluate(a) for a in alarms}


def through_parent(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", fport, timeout=30)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    resp = c.getresponse()
    data = resp.read()
    c.close()
    return resp.status, data


def verify(doc_b64):
    req = urllib.request.Request(f"http://127.0.0.1:{vport}/api/v1/verify",
                                 data=json.dumps({"document": doc_b64}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


DIM = {"Deployment": NAME}
minute()                                        # the counters' baseline
# Traffic through the parent to the enclave: 3 signatures, 2 of them with a
# document; 1 refusal; and 2 verdicts at the verifier.
sent = [through_parent("POST", "/sign", json.dumps({"payload": "aGk=", "nonce": "0a0b"}))[0],
        through_parent("POST", "/sign", json.dumps({"payload": "aGk=", "nonce": "0c0d"}))[0],
        through_parent("POST", "/sign", json.dumps({"payload": "aGk="}))[0],
        through_parent("GET", "/attestation?nonce=zz")[0]]
check("traffic through the parent", sent == [200, 200, 200, 400], sent)
verdicts = [verify(base64.b64encode(b"not a document").decode()).get("reason") for _ in range(2)]
for _ in range(3):
    minute()
check("EMF events reached the metrics log group", emf_events > 0 and logs.filter_log_events(
    logGroupName=METRICS_GROUP, limit=5)["events"], emf_events)
ev = json.loads(logs.filter_log_events(logGroupName=METRICS_GROUP, limit=1)["events"][0]["message"])
check("an event is embedded metric format: namespace, dimensions, metric",
      ev["CloudWatchMetrics"][0]["Namespace"] == "Glassbox" and ev["Deployment"] == NAME, ev)
check("healthy: EnclaveRunning 1 every minute", series("EnclaveRunning", DIM)[1:] == [1, 1, 1],
      series("EnclaveRunning", DIM))
check("healthy: HealthCheckSuccess 1", series("HealthCheckSuccess", DIM)[1:] == [1, 1, 1])
check("healthy: glassbox_ready 1, glassbox_log_damaged 0",
      series("glassbox_ready", DIM)[1:] == [1, 1, 1] and series("glassbox_log_damaged", DIM)[1:] == [0, 0, 0])
check("the enclave's signatures, counted once (counters sent as differences)",
      sum(v or 0 for v in series("glassbox_enclave_signs_total", DIM)) == 3,
      series("glassbox_enclave_signs_total", DIM))
check("the enclave's attestations", sum(v or 0 for v in series("glassbox_enclave_attestations_total", DIM)) == 2)
check("the enclave's refusals by reason", sum(v or 0 for v in series(
    "glassbox_enclave_refusals_total", dict(DIM, reason="bad_request"))) == 1)
check("the parent's connections by forwarder", sum(v or 0 for v in series(
    "glassbox_parent_accepted_total", dict(DIM, listen=f"tcp:127.0.0.1:{fport}"))) == 4)
check("the parent's refusals by forwarder exist (none here)", series(
    "glassbox_parent_refused_total", dict(DIM, listen=f"tcp:127.0.0.1:{fport}"))[1:] == [0, 0, 0])
reason = verdicts[0]
check("the verifier's verdicts by reason", reason and sum(v or 0 for v in series(
    "glassbox_verdicts_total", dict(DIM, reason=reason))) == 2, (verdicts, series(
        "glassbox_verdicts_total", dict(DIM, reason=str(reason)))))
names = {m["MetricName"] for m in cw.list_metrics(Namespace="Glassbox")["Metrics"]}
check("the histogram is dropped, as the agent drops it", "glassbox_request_seconds_bucket" in agent.dropped
      and not any(n.startswith("glassbox_request_seconds") for n in names), sorted(names))
for a in alarms:
    found = cw.list_metrics(Namespace=a["Namespace"], MetricName=a["MetricName"],
                            Dimensions=a["Dimensions"])["Metrics"]
    check(f"{a['AlarmName']} watches a metric that exists", len(found) == 1, (a["MetricName"], sorted(names)))
check("healthy: no alarm", states() == {"enclave-down": "OK", "verifier-not-ready": "OK",
                                         "log-damaged": "OK"}, states())

# The enclave stops: after three minutes, enclave-down fires; nothing else.
describe("TERMINATING")
minute()
minute()
check("two minutes down: not yet", states()["enclave-down"] == "OK", series("EnclaveRunning", DIM))
minute()
check("enclave stopped: enclave-down fires, alone", states() == {
    "enclave-down": "ALARM", "verifier-not-ready": "OK", "log-damaged": "OK"}, states())
check("... HealthCheckSuccess 0 too", series("HealthCheckSuccess", DIM)[-3:] == [0, 0, 0])
describe("RUNNING")
for _ in range(3):
    minute()
check("the enclave back: enclave-down clears", states()["enclave-down"] == "OK", states())

# The log damaged behind the verifier's back (a release marked revoked
# without a revocation in the log): its audit fails, /readyz says
# log_damaged, and both verifier alarms fire.
db = sqlite3.connect(DB)
with db:
    db.execute("UPDATE releases SET revoked = 1")
db.close()
damaged = False
for _ in range(300):                            # bounded: 30 s (audits every second)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{vport}/readyz", timeout=10).close()
    except urllib.error.HTTPError as e:
        damaged = json.loads(e.read()).get("reason") == "log_damaged"
        if damaged:
            break
    time.sleep(0.1)
check("the verifier finds the log damaged", damaged)
for _ in range(3):
    minute()
check("log damaged: glassbox_log_damaged 1, glassbox_ready 0",
      series("glassbox_log_damaged", DIM)[-3:] == [1, 1, 1] and series("glassbox_ready", DIM)[-3:] == [0, 0, 0])
check("log damaged: log-damaged and verifier-not-ready fire", states() == {
    "enclave-down": "OK", "verifier-not-ready": "ALARM", "log-damaged": "ALARM"}, states())

# The verifier gone: nothing reports readiness; silence is breaching for
# verifier-not-ready, not for log-damaged.
verifier.send_signal(signal.SIGTERM)
check("the verifier stops", verifier.wait(timeout=30) == 0)
for _ in range(3):
    minute()
check("verifier gone: no data for three minutes", series("glassbox_ready", DIM)[-3:] == [None] * 3)
check("verifier gone: verifier-not-ready fires, log-damaged does not", states() == {
    "enclave-down": "OK", "verifier-not-ready": "ALARM", "log-damaged": "OK"}, states())

# The logs: every line the daemons wrote is a JSON object, and lands in
# the instance's log group under the stream the configuration names.
shipped = dict(ship_logs())
for d, lines in shipped.items():
    bad = []
    for ln in lines:
        try:
            if not isinstance(json.loads(ln), dict):
                bad.append(ln)
        except ValueError:
            bad.append(ln)
    check(f"{d}: its log is JSON lines", lines and not bad, bad[:3])
    got = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=f"{INSTANCE}/glassbox-{d}")["events"]
    check(f"{d}: its lines are in {LOG_GROUP}", len(got) == min(len(lines), 500), (len(got), len(lines)))
check("the parent logged the enclave's metrics as fetched", any(
    '"event":"enclave_metrics"' in ln for ln in shipped.get("parent", [])))

for p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
subprocess.run(["gpgconf", "--homedir", GNUPG, "--kill", "gpg-agent"], check=False)
shutil.rmtree(TMP, ignore_errors=True)
finish()

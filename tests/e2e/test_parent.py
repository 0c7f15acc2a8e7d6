#!/usr/bin/env python3
"""glassbox-parent with real sockets on 127.0.0.1: byte-exact transfer of
1 GiB both ways (hashes compared), backpressure from an enclave that stops
reading (bounded, nothing lost), half-close, many concurrent connections,
refusal over the limit, idle timeout, and the health states from a describe
command that prints real-shaped `nitro-cli describe-enclaves` JSON.

usage: test_parent.py PARENT [MiB [ENCLAVE]]
(with ENCLAVE, a real glassbox-enclave's counters are read through the
parent's /metrics too)
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import struct
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

PARENT = sys.argv[1]
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
ENCLAVE = sys.argv[3] if len(sys.argv) > 3 else None
TMP = tempfile.mkdtemp(prefix="glassbox-parent-")




class Echo:
    """The 'enclave': echoes every byte, and after the client's half-close
    sends b'bye' before closing."""

    accepted = 0            # for the report when a transfer stalls
    echoed = 0
    error = None

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(256)
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError as e:
                self.error = f"accept: {e!r}"
                return
            self.accepted += 1
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        try:
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                c.sendall(d)
                self.echoed += len(d)
            c.sendall(b"bye")
        except OSError as e:
            self.error = f"echo: {e!r}"
        c.close()

    def close(self):
        # shutdown() first: a thread blocked in accept() keeps the socket
        # listening after a mere close().
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def read_to_eof(c, size=1 << 16):
    """Everything the peer sends until it closes its side."""
    data = b""
    while True:
        d = c.recv(size)
        if not d:
            return data
        data += d


DESCRIBE = os.path.join(TMP, "describe.json")
SCRIPT = os.path.join(TMP, "describe.sh")
with open(SCRIPT, "w") as f:
    f.write(f"#!/bin/sh\n[ -f {DESCRIBE}.fail ] && exit 1\ncat {DESCRIBE}\n")
os.chmod(SCRIPT, 0o755)


def describe(state="RUNNING", flags="NONE", raw=None, fail=False):
    with open(DESCRIBE, "w") as f:
        f.write(raw if raw is not None else json.dumps([{
            "EnclaveName": "app", "EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef",
            "ProcessID": 4242, "EnclaveCID": 16, "NumberOfCPUs": 2, "CPUIDs": [1, 3],
            "MemoryMiB": 1024, "State": state, "Flags": flags,
            "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "00" * 48}}]))
    if fail:
        open(DESCRIBE + ".fail", "w").close()
    elif os.path.exists(DESCRIBE + ".fail"):
        os.remove(DESCRIBE + ".fail")


class Parent:
    def __init__(self, target_port, *extra):
        self.log = open(os.path.join(TMP, f"parent-{time.time()}.log"), "w+")
        self.proc = subprocess.Popen(
            [PARENT, "--forward", f"tcp:127.0.0.1:0=tcp:127.0.0.1:{target_port}",
             "--health", "127.0.0.1:0", "--describe-cmd", SCRIPT, *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        fwd = self.proc.stdout.readline()
        health = self.proc.stdout.readline()
        if "forwarding" not in fwd or "health on" not in health:
            raise SystemExit(f"parent did not start: {fwd} {health}")
        self.port = int(fwd.split()[1].rsplit(":", 1)[1])
        self.health_url = health.split()[2]

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def health(self):
        try:
            with urllib.request.urlopen(self.health_url, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def metrics(self):
        url = self.health_url.replace("/health", "/metrics")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return [ln for ln in r.read().decode().splitlines() if not ln.startswith("#")]
        except OSError as e:
            return [f"metrics: {e!r}"]

    def log_tail(self, n=20):
        self.log.seek(0)
        return self.log.read().splitlines()[-n:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


describe()
echo = Echo()
p = Parent(echo.port, "--max-conns", "300")

# 1. MIB MiB each way, byte for byte: send a pseudo-random stream while
#    reading the echo, compare SHA-256 of both. The client keeps at most
#    AHEAD bytes unanswered, as a protocol with flow control of its own
#    would. Without a bound every queue on the loop fills, the echo's to the
#    kernel's 32 MiB maximum, and in one run of ten to thirty this kernel then
#    prunes that queue and shrinks its window; both sockets of the
#    parent-echo connection were seen in `ss` with retransmission backoff 7
#    (26 s) and no byte moving for over 30 s (TcpExt RcvPruned and
#    TCPRcvQDrop +1). Our reading: each side's segments fell beyond the
#    other's window, so neither saw the other's ACKs until a backed-off
#    retransmission. Full buffers are tested on purpose in 1b, one way.
#    A stall (nothing moving for 30 s) fails with a report of where the
#    bytes stopped.
block = hashlib.sha256(b"seed").digest() * (1 << 15)        # 1 MiB
AHEAD = 8 << 20
sent, got = hashlib.sha256(), hashlib.sha256()
s = p.connect()
received = [0]
moved = threading.Condition()
failure = []


def reader():
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                return
            got.update(d)
            with moved:
                received[0] += len(d)
                moved.notify()
    except OSError as e:
        failure.append(f"client recv: {e!r}")


def tcp_counters():
    """The kernel's TCP counters that tell a dropped segment or a timeout
    (from /proc/net/netstat, TcpExt)."""
    with open("/proc/net/netstat") as f:
        rows = [ln.split() for ln in f if ln.startswith("TcpExt:")]
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:]) if k in (
        "TCPTimeouts", "RcvPruned", "TCPRcvQDrop", "OfoPruned", "TCPZeroWindowDrop",
        "TCPBacklogDrop", "TCPMemoryPressures")}


counters = tcp_counters()


def stall_report(what):
    now = tcp_counters()
    ports = f"( sport = :{p.port} or dport = :{p.port} or sport = :{echo.port} or dport = :{echo.port} )"
    ss = shutil.which("ss") and subprocess.run(["ss", "-tnoi", "state", "all", ports],
                                               capture_output=True, text=True).stdout
    return "\n".join([what, f"client sent {i} MiB, received {received[0]} bytes;"
                      f" echo accepted {echo.accepted}, echoed {echo.echoed} bytes,"
                      f" error {echo.error}; parent alive: {p.proc.poll() is None}",
                      "kernel TCP counters since the start: " +
                      ", ".join(f"{k} +{now[k] - counters[k]}" for k in now),
                      *p.metrics(), ss or "(no ss)", *p.log_tail()])


t = threading.Thread(target=reader)
t.start()
t0 = time.time()
i = 0
try:
    for i in range(MIB):
        chunk = block[i % 7:] + block[:i % 7]       # no two chunks alike
        sent.update(chunk)
        with moved:
            if not moved.wait_for(lambda: (i << 20) - received[0] <= AHEAD, 30):
                raise TimeoutError("nothing came back for 30 s")
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)                      # half-close
except OSError as e:
    failure.append(stall_report(f"client send: {e!r}"))
t.join()
if failure and len(failure) == 1 and failure[0].startswith("client recv"):
    failure[0] = stall_report(failure[0])
s.close()
sent.update(b"bye")
check(f"{MIB} MiB both ways, byte-exact", not failure and sent.digest() == got.digest() and
      received[0] == MIB * (1 << 20) + 3, "\n".join(failure) or f"{received[0]} bytes")
print(f"({MIB} MiB each way in {time.time() - t0:.1f} s)")

# 1b. Backpressure: an enclave that stops reading. The parent stops taking
#     bytes from the client once it cannot pass them on (the client's send
#     blocks), its memory does not grow, and when the enclave reads again
#     every byte arrives in order.
class Sink:
    """The 'enclave' that reads nothing until go is set, then hashes
    everything to the end."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(8)
        self.port = self.s.getsockname()[1]
        self.go = threading.Event()
        self.count, self.digest = 0, None
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        c, _ = self.s.accept()
        self.go.wait(120)
        h = hashlib.sha256()
        while d := c.recv(1 << 20):
            h.update(d)
            self.count += len(d)
        self.digest = h.digest()
        c.close()
        self.s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))


sink = Sink()
q = Parent(sink.port)
c = q.connect()
c.setblocking(False)
pushed, h = 0, hashlib.sha256()
rss0 = rss_kib(q.proc.pid)
t0 = last = time.time()
while time.time() - last < 1 and time.time() - t0 < 60:     # 1 s blocked ends it
    chunk = block[pushed % 251:pushed % 251 + (1 << 16)]
    try:
        n = c.send(chunk)
    except BlockingIOError:
        time.sleep(0.01)
        continue
    h.update(chunk[:n])
    pushed += n
    last = time.time()
grown = rss_kib(q.proc.pid) - rss0
check("a stalled enclave blocks the client", pushed < 64 << 20 and time.time() - t0 < 60,
      f"{pushed} bytes taken in {time.time() - t0:.1f} s")
check("the parent's memory stays flat", grown < 8 << 10, f"VmRSS +{grown} KiB")
sink.go.set()
c.setblocking(True)
c.settimeout(30)
c.shutdown(socket.SHUT_WR)
sink.t.join(60)
check("resumed, every byte arrives in order", sink.count == pushed and sink.digest == h.digest(),
      f"{sink.count} of {pushed} bytes")
print(f"({pushed >> 10} KiB in the buffers, VmRSS +{grown} KiB)")
c.close()
rc = q.stop()
check("stops on SIGTERM (1b)", rc == 0, (rc, q.log_tail(60)))

# 2. Half-close: the enclave still answers after the client stopped sending.
s = p.connect()
s.sendall(b"hello")
s.shutdown(socket.SHUT_WR)
data = read_to_eof(s)
s.close()
check("half-close", data == b"hellobye", data)

# 3. Many concurrent connections, each its own bytes back.
errors = []


def client(i):
    try:
        c = p.connect()
        payload = hashlib.sha256(str(i).encode()).digest() * 3000    # 96 KB
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        back = read_to_eof(c)
        c.close()
        if back != payload + b"bye":
            errors.append(i)
    except OSError as e:
        errors.append((i, e))


threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
for th in threads:
    th.start()
for th in threads:
    th.join()
check("200 concurrent connections", not errors, errors[:5])
st, h = p.health()
check("health running", st == 200 and h["enclave"]["State"] == "RUNNING"
      and h["enclave"]["EnclaveCID"] == 16 and h["forwarders"][0]["reachable"], h)
check("health counts bytes", h["forwarders"][0]["bytes_in"] >= MIB << 20, h)

# 4. Health states.
describe(flags="DEBUG_MODE")
st, h = p.health()
check("health debug", st == 503 and "DEBUG_MODE" in h["reason"], h)
describe(state="TERMINATING")
st, h = p.health()
check("health terminating", st == 503 and "RUNNING" in h["reason"], h)
describe(fail=True)
st, h = p.health()
check("health describe fails", st == 503 and "failed" in h["reason"], h)
describe(raw="{not json")
st, h = p.health()
check("health garbage", st == 503 and "JSON" in h["reason"], h)
describe(raw="[]")
st, h = p.health()
check("health no enclave", st == 503, h)
describe()
text = "\n".join(p.metrics())
check("metrics", "glassbox_parent_accepted" in text and "glassbox_parent_bytes_in" in text, text[:200])
with urllib.request.urlopen(p.health_url.replace("/health", "/metrics"), timeout=30) as r:
    full = r.read().decode()
r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "promcheck.py")], input=full, capture_output=True, text=True, timeout=60)
check("metrics parse as Prometheus text", r.returncode == 0 and
      "glassbox_parent_health_http_connections_open" in r.stdout, r.stdout[-600:])
rc = p.stop()
check("stops on SIGTERM", rc == 0, (rc, p.log_tail(60)))

# 5. Over the limit: refused at once, counted; idle connections closed.
p = Parent(echo.port, "--max-conns", "2", "--idle-timeout", "700")
held = [p.connect(), p.connect()]
for c in held:
    c.sendall(b"x")
    c.recv(1)
time.sleep(0.2)
c3 = p.connect()
t0 = time.time()
try:
    c3.settimeout(5)
    refused = c3.recv(10) == b""
except OSError:
    refused = True
check("over the limit refused at once", refused and time.time() - t0 < 2)
st, h = p.health()
check("refusal counted", h["forwarders"][0]["refused"] >= 1, h)
t0 = time.time()
held[0].settimeout(10)
try:
    closed = held[0].recv(10) == b""
except OSError:
    closed = True
check("idle timeout", closed and 0.4 < time.time() - t0 < 5, time.time() - t0)
for c in held + [c3]:
    c.close()

# 6. The enclave gone: unreachable, 503.
echo.close()
time.sleep(0.2)
st, h = p.health()
check("health unreachable", st == 503 and h["forwarders"][0]["reachable"] is False, h)
c = p.connect()
c.settimeout(10)
try:
    gone = c.recv(10) == b""
except OSError:
    gone = True
check("connection to a dead target closed", gone)
rc = p.stop()
check("stops on SIGTERM (2)", rc == 0, (rc, p.log_tail(60)))
p.log.seek(0)
lines = p.log.read().splitlines()
try:
    [json.loads(l) for l in lines]
    logs_ok = any('"refused"' in l for l in lines) and any("idle_timeout" in l for l in lines)
except ValueError:
    logs_ok = False
check("logs are JSON lines with refusals and timeouts", logs_ok, lines[:10])

# 7. The outbound proxy: only allowlisted destinations, reloaded on SIGHUP.
echo2 = Echo()
allow = os.path.join(TMP, "allow.yaml")
with open(allow, "w") as f:
    f.write(f"allowlist:\n- {{address: localhost, port: {echo2.port}}}\n"
            "- {address: kms.us-east-1.amazonaws.com, port: 443}\n")
out_sock = os.path.join(TMP, "out.sock")
p = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--describe-cmd", SCRIPT,
                      "--outbound", f"unix:{out_sock}=localhost:{echo2.port}", "--allowlist", allow,
                      "--outbound-allow-special"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
check("outbound starts", line.startswith("outbound unix:"), line)


def via_outbound():
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(out_sock)
    try:
        c.sendall(b"ping")
        c.shutdown(socket.SHUT_WR)
        return read_to_eof(c)
    except OSError:
        return b""
    finally:
        c.close()


check("outbound allowed", via_outbound() == b"pingbye")
with open(allow, "w") as f:
    f.write("allowlist:\n- {address: kms.us-east-1.amazonaws.com, port: 443}\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
check("outbound withdrawn on SIGHUP", via_outbound() == b"")
with open(allow, "w") as f:
    f.write("allowlist: [oops\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
check("a broken allowlist keeps the old one", via_outbound() == b"")
with open(allow, "w") as f:
    f.write(f"allowlist:\n- {{address: localhost, port: {echo2.port}}}\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
check("outbound allowed again", via_outbound() == b"pingbye")
p.send_signal(signal.SIGTERM)
check("outbound stops", p.wait(timeout=30) == 0)
err = p.stderr.read()
check("denials logged", '"denied"' in err and "allowlist_error" in err, err[-500:])
with open(allow, "w") as f:
    f.write("allowlist:\n- {address: kms.us-east-1.amazonaws.com, port: 443}\n")
r = subprocess.run([PARENT, "--health", "127.0.0.1:0", "--outbound",
                    f"unix:{out_sock}=localhost:{echo2.port}", "--allowlist", allow],
                   capture_output=True, text=True, timeout=30)
check("not on the allowlist: refused at start", r.returncode == 2 and "not on the allowlist" in r.stderr, r.stderr)
with open(allow, "w") as f:
    f.write("allowlist:\n- {address: x, port: 99999}\n")
r = subprocess.run([PARENT, "--outbound", f"unix:{out_sock}=x:1", "--allowlist", allow],
                   capture_output=True, text=True, timeout=30)
check("bad allowlist refused", r.returncode == 2 and 'bad field "port"' in r.stderr, r.stderr)

# Ports are 1..65535 exactly: 4294967739 does not wrap to 443, in the
# allowlist or in --outbound.
def start_refused(*args):
    """(exit status, stderr) of a parent expected to refuse its start; a
    parent that starts after all is stopped and reported as None."""
    q = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = q.communicate(timeout=10)
        return q.returncode, err
    except subprocess.TimeoutExpired:
        q.kill()
        return None, q.communicate()[1]


for bad_port in ("4294967739", "4294967296", "65536", "0", "-1", "+443", "0x1bb", " 443", "443 ", ""):
    with open(allow, "w") as f:
        f.write(f"allowlist:\n- {{address: x, port: '{bad_port}'}}\n")
    rc, err = start_refused("--outbound", f"unix:{out_sock}=x:443", "--allowlist", allow)
    check(f"allowlist port {bad_port!r} refused", rc == 2 and 'bad field "port"' in err, err)
    if bad_port.strip() == bad_port and bad_port:
        # Unquoted too: a number YAML reads, but not 1..65535 in decimal.
        with open(allow, "w") as f:
            f.write(f"allowlist:\n- {{address: x, port: {bad_port}}}\n")
        rc, err = start_refused("--outbound", f"unix:{out_sock}=x:443", "--allowlist", allow)
        check(f"allowlist port {bad_port} (unquoted) refused",
              rc == 2 and 'bad field "port": not a decimal' in err, err)
    with open(allow, "w") as f:
        f.write("allowlist:\n- {address: x, port: 443}\n")
    rc, err = start_refused("--outbound", f"unix:{out_sock}=x:{bad_port}", "--allowlist", allow)
    check(f"--outbound port {bad_port!r} refused", rc == 2 and "HOST:PORT" in err, err)
with open(allow, "w") as f:
    f.write("allowlist:\n- {address: x, port: 65535}\n")
p = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--outbound", f"unix:{out_sock}=x:65535",
                      "--allowlist", allow], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
check("port 65535 accepted", p.stdout.readline().startswith("outbound unix:"))
p.send_signal(signal.SIGTERM)
check("port 65535 parent stops", p.wait(timeout=30) == 0)

# A listed name that resolves to loopback is refused (and logged) unless
# --outbound-allow-special; so is a literal special address.
for host in ("localhost", "127.0.0.1", "::1"):
    with open(allow, "w") as f:
        f.write(f"allowlist:\n- {{address: '{host}', port: {echo2.port}}}\n")
    p = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--outbound",
                          f"unix:{out_sock}={host}:{echo2.port}", "--allowlist", allow],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(f"{host}: starts (allowlisted)", line.startswith("outbound unix:"), line)
    check(f"{host}: loopback refused", via_outbound() == b"")
    p.send_signal(signal.SIGTERM)
    check(f"{host}: stops", p.wait(timeout=30) == 0)
    err = p.stderr.read()
    check(f"{host}: refusal logged", '"address_refused"' in err and "loopback" in err, err[-400:])
# The same through a config file's outbound-allow-special = true.
conf0 = os.path.join(TMP, "special.conf")
with open(conf0, "w") as f:
    f.write(f"outbound = unix:{out_sock}=localhost:{echo2.port}\nallowlist = {allow}\n"
            "health = 127.0.0.1:0\noutbound-allow-special = true\n")
with open(allow, "w") as f:
    f.write(f"allowlist:\n- {{address: localhost, port: {echo2.port}}}\n")
p = subprocess.Popen([PARENT, "--config", conf0], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
p.stdout.readline()
check("outbound-allow-special = true allows loopback", via_outbound() == b"pingbye")
# SIGHUP with the setting gone: refused from then on.
with open(conf0, "w") as f:
    f.write(f"outbound = unix:{out_sock}=localhost:{echo2.port}\nallowlist = {allow}\n"
            "health = 127.0.0.1:0\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.7)
check("SIGHUP withdraws outbound-allow-special", via_outbound() == b"")
p.send_signal(signal.SIGTERM)
check("special parent stops", p.wait(timeout=30) == 0)
echo2.close()

# 7b. Outbound names follow their DNS TTL: a small DNS server on 127.0.0.1
#     answers svc.glassbox.test with 127.0.0.1 (TTL 1), then 127.0.0.2.
dns_answer = ["127.0.0.1"]
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.bind(("127.0.0.1", 0))


def dns_serve():
    while True:
        try:
            q, peer = dns.recvfrom(512)
        except OSError:
            return
        qid = q[:2]
        end = 12
        while q[end] != 0:
            end += 1 + q[end]
        question = q[12:end + 5]
        ans = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4) +
               socket.inet_aton(dns_answer[0]))
        dns.sendto(qid + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + question + ans, peer)


threading.Thread(target=dns_serve, daemon=True).start()
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
svc_port = probe.getsockname()[1]
probe.close()


def replier(host, word):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, svc_port))
    s.listen(8)

    def run():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            c.sendall(word)
            c.close()
    threading.Thread(target=run, daemon=True).start()
    return s


ra, rb = replier("127.0.0.1", b"first"), replier("127.0.0.2", b"second")
with open(allow, "w") as f:
    f.write(f"allowlist:\n- {{address: svc.glassbox.test, port: {svc_port}}}\n")
p = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--outbound",
                      f"unix:{out_sock}=svc.glassbox.test:{svc_port}", "--allowlist", allow,
                      "--dns-server", f"127.0.0.1:{dns.getsockname()[1]}", "--resolve-interval", "30",
                      "--outbound-allow-special"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
p.stdout.readline()


def fetch():
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(out_sock)
    data = read_to_eof(c)
    c.close()
    return data


check("resolved through DNS", fetch() == b"first")
dns_answer[0] = "127.0.0.2"
time.sleep(2.5)                         # the TTL is 1 s
check("re-resolved after the TTL", fetch() == b"second")
p.send_signal(signal.SIGTERM)
check("dns parent stops", p.wait(timeout=30) == 0)

# Without --outbound-allow-special, a name whose DNS answer turns to the
# instance metadata address (or loopback) is refused and logged.
dns_answer[0] = "169.254.169.254"
p = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--outbound",
                      f"unix:{out_sock}=svc.glassbox.test:{svc_port}", "--allowlist", allow,
                      "--dns-server", f"127.0.0.1:{dns.getsockname()[1]}", "--resolve-interval", "30"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
p.stdout.readline()
check("metadata address refused", fetch() == b"")
dns_answer[0] = "127.0.0.2"
time.sleep(2.5)                         # the TTL is 1 s
check("loopback answer refused", fetch() == b"")
p.send_signal(signal.SIGTERM)
check("refusing dns parent stops", p.wait(timeout=30) == 0)
err = p.stderr.read()
check("metadata refusal logged", "169.254.169.254 is link-local and instance metadata" in err, err[-600:])
check("loopback refusal logged", "127.0.0.2 is loopback" in err, err[-600:])
for s_ in (ra, rb, dns):
    s_.close()

# 8. A config file; SIGHUP adds and retires forwarders, and a connection
#    through a retired one goes on.
echo3 = Echo()
echo4 = Echo()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


pa, pb = free_port(), free_port()
conf = os.path.join(TMP, "parent.conf")
with open(conf, "w") as f:
    f.write(f"# the bridge\nforward = tcp:127.0.0.1:{pa}=tcp:127.0.0.1:{echo3.port}\n"
            f"describe-cmd = {SCRIPT}\nhealth = 127.0.0.1:0\nmax-conns = 50\n")
p = subprocess.Popen([PARENT, "--config", conf], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
check("config file", line.startswith(f"forwarding tcp:127.0.0.1:{pa} "), line)
held = socket.create_connection(("127.0.0.1", pa), timeout=10)
held.sendall(b"a")
check("config forwarder works", held.recv(1) == b"a")
with open(conf, "w") as f:
    f.write(f"forward = tcp:127.0.0.1:{pb}=tcp:127.0.0.1:{echo4.port}\n"
            f"describe-cmd = {SCRIPT}\nhealth = 127.0.0.1:0\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.7)
c = socket.create_connection(("127.0.0.1", pb), timeout=10)
c.sendall(b"new")
c.shutdown(socket.SHUT_WR)
back = read_to_eof(c)
check("SIGHUP added a forwarder", back == b"newbye", back)
c.close()
try:
    socket.create_connection(("127.0.0.1", pa), timeout=2).close()
    retired = False
except OSError:
    retired = True
check("SIGHUP retired a forwarder", retired)
held.sendall(b"b")
check("its open connection goes on", held.recv(1) == b"b")
held.close()
with open(conf, "w") as f:
    f.write("forward = nonsense\n")
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
c = socket.create_connection(("127.0.0.1", pb), timeout=10)
c.sendall(b"x")
check("a broken config keeps what runs", c.recv(1) == b"x")
c.close()
p.send_signal(signal.SIGTERM)
check("config parent stops", p.wait(timeout=30) == 0)
err = p.stderr.read()
check("reloads logged", "forwarder_added" in err and "forwarder_retired" in err, err[-400:])
with open(conf, "w") as f:
    f.write("colour = blue\n")
r = subprocess.run([PARENT, "--config", conf], capture_output=True, text=True, timeout=30)
check("unknown config option", r.returncode == 2 and "colour" in r.stderr, r.stderr)
echo3.close()
echo4.close()

# 9. /metrics: the enclave's state as gauges (the seeds' EnclaveRunning and
#    HealthCheckSuccess), and the enclave's own counters, fetched from the
#    forwarder's target and copied only when every line passes the checks.
class FakeEnclave:
    """Answers every HTTP request with self.answer (raw bytes) and closes;
    connections that send no request (the health probes) are closed."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(64)
        self.port = self.s.getsockname()[1]
        self.answer = b""
        self.requests = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        c.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            if data:
                self.requests.append(data.split(b"\r\n", 1)[0])
                if self.answer is not None:
                    c.sendall(self.answer)
                else:
                    time.sleep(4)           # says nothing past the deadline
        except OSError:
            pass
        c.close()

    def close(self):
        self.s.close()


def http_answer(body, status="200 OK", length=None):
    body = body.encode() if isinstance(body, str) else body
    n = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n"
            f"Content-Length: {n}\r\n\r\n").encode() + body


def parent_metrics(port_url):
    with urllib.request.urlopen(port_url.replace("/health", "/metrics"), timeout=30) as r:
        return r.read().decode()


def promcheck(text):
    return subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "promcheck.py")], input=text, capture_output=True, text=True, timeout=60)


def sample(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


GOOD = ("# HELP glassbox_enclave_signs_total Results signed.\n"
        "# TYPE glassbox_enclave_signs_total counter\n"
        "glassbox_enclave_signs_total 7\n"
        "# HELP glassbox_enclave_refusals_total Refusals by reason.\n"
        "# TYPE glassbox_enclave_refusals_total counter\n"
        'glassbox_enclave_refusals_total{reason="bad_request"} 3\n'
        'glassbox_enclave_refusals_total{reason="nsm_error"} 0\n'
        "# HELP glassbox_enclave_http_connections_open Open.\n"
        "# TYPE glassbox_enclave_http_connections_open gauge\n"
        "glassbox_enclave_http_connections_open 1\n")
fake = FakeEnclave()
fake.answer = http_answer(GOOD)
describe()
p = Parent(fake.port)
text = parent_metrics(p.health_url)
r = promcheck(text)
check("metrics: the enclave's counters merged, valid Prometheus text", r.returncode == 0 and
      sample(text, "glassbox_enclave_signs_total") == 7 and
      sample(text, 'glassbox_enclave_refusals_total{reason="bad_request"}') == 3 and
      "glassbox_enclave_signs counter" in r.stdout, (r.stdout[-400:], text[-600:]))
check("metrics: fetched with GET /metrics", b"GET /metrics HTTP/1.0" in fake.requests, fake.requests)
check("metrics: running, healthy, enclave metrics up",
      sample(text, "EnclaveRunning") == 1 and
      sample(text, "HealthCheckSuccess") == 1 and
      sample(text, "glassbox_parent_enclave_metrics_up") == 1, text[:600])
for state, flags, running, healthy in (("TERMINATING", "NONE", 0, 0), ("RUNNING", "DEBUG_MODE", 1, 0)):
    describe(state=state, flags=flags)
    text = parent_metrics(p.health_url)
    check(f"metrics: {state} {flags}: running {running}, healthy {healthy}",
          sample(text, "EnclaveRunning") == running and
          sample(text, "HealthCheckSuccess") == healthy, text[:400])
describe(fail=True)
text = parent_metrics(p.health_url)
check("metrics: the describe command fails: not running, not healthy",
      sample(text, "EnclaveRunning") == 0 and
      sample(text, "HealthCheckSuccess") == 0, text[:400])
describe()
# Whatever answers on the enclave's port cannot write the parent's output:
# each of these is refused whole, and the parent's text stays valid.
bad = {
    "not the enclave's family": http_answer("# HELP HealthCheckSuccess x\n"
                                             "# TYPE HealthCheckSuccess gauge\n"
                                             "HealthCheckSuccess 1\n"),
    "a family twice": http_answer(GOOD + "# HELP glassbox_enclave_signs_total again\n"
                                  "# TYPE glassbox_enclave_signs_total counter\n"
                                  "glassbox_enclave_signs_total 8\n"),
    "a sample of another family": http_answer(GOOD + "glassbox_enclave_signs_total 9\n"),
    "a sample without HELP and TYPE": http_answer("glassbox_enclave_x 1\n"),
    "a control byte": http_answer(GOOD.replace("Results signed.", "Results\x1b[2J signed.")),
    "a label value with a quote": http_answer(GOOD.replace('reason="nsm_error"', 'reason="a"b"')),
    "a value that is not a number": http_answer(GOOD.replace("signs_total 7", "signs_total seven")),
    "a histogram": http_answer(GOOD.replace("http_connections_open gauge",
                                            "http_connections_open histogram")),
    "no final newline": http_answer(GOOD[:-1]),
    "a body over 64 KiB": http_answer(GOOD + "".join(f'glassbox_enclave_http_connections_open{{i="{i}"}} 1\n'
                                                     for i in range(2000))),
    "a wrong Content-Length": http_answer(GOOD, length=len(GOOD) + 10),
    "a 500": http_answer(GOOD, status="500 Internal Server Error"),
    "a NUL byte": http_answer(GOOD.replace("Refusals", "Ref\0usals")),
    "not HTTP": b"SSH-2.0-OpenSSH\r\n",
    "no answer within 2 s": None,
}
for what, answer in bad.items():
    fake.answer = answer
    text = parent_metrics(p.health_url)
    r = promcheck(text)
    check(f"metrics: the enclave's answer refused: {what}",
          "glassbox_enclave_signs_total" not in text and r.returncode == 0 and
          sample(text, "glassbox_parent_enclave_metrics_up") == 0 and
          sample(text, "HealthCheckSuccess") == 1, (r.stdout[-300:], text[:300]))
fake.answer = http_answer(GOOD)
check("metrics: merged again once the answer is good",
      sample(parent_metrics(p.health_url), "glassbox_enclave_signs_total") == 7)
check("metrics: stops", p.stop() == 0)
p.log.seek(0)
log = p.log.read()
check("metrics: failures and recovery logged once each, as JSON",
      log.count('"event":"enclave_metrics_error"') == 1 and log.count('"event":"enclave_metrics"') == 2 and
      "a HELP line outside the enclave's families" in log, log[-800:])
p = Parent(fake.port, "--enclave-metrics", "off")
text = parent_metrics(p.health_url)
check("metrics: --enclave-metrics off: no enclave lines, no up gauge",
      "glassbox_enclave_" not in text and "glassbox_parent_enclave_metrics_up" not in text and
      sample(text, "HealthCheckSuccess") == 1, text[:300])
p.stop()
fake2 = FakeEnclave()
fake2.answer = http_answer(GOOD.replace("signs_total 7", "signs_total 11"))
p = Parent(fake.port, "--enclave-metrics", f"tcp:127.0.0.1:{fake2.port}")
check("metrics: --enclave-metrics TARGET", sample(parent_metrics(p.health_url),
                                                  "glassbox_enclave_signs_total") == 11)
p.stop()
r = subprocess.run([PARENT, "--forward", "tcp:127.0.0.1:0=tcp:127.0.0.1:1", "--enclave-metrics", "bogus:1"],
                   capture_output=True, text=True, timeout=30)
check("metrics: a bad --enclave-metrics refused", r.returncode == 2 and "enclave-metrics" in r.stderr,
      r.stderr)
fake.close()
fake2.close()

# A real glassbox-enclave behind the forwarder: what a client did through
# the parent shows in the parent's /metrics.
if ENCLAVE:
    esock = os.path.join(TMP, "enclave.sock")
    with open(os.path.join(TMP, "pcrs.json"), "w") as f:
        json.dump({"pcrs": {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}}, f)
    enc = subprocess.Popen([ENCLAVE, "--nsm", "sim", "--state", os.path.join(TMP, "sim"),
                            "--pcrs", os.path.join(TMP, "pcrs.json"), "--listen", "unix:" + esock],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = enc.stdout.readline()
    while line and not line.startswith("listening on"):
        line = enc.stdout.readline()
    describe()
    p = subprocess.Popen([PARENT, "--forward", "tcp:127.0.0.1:0=unix:" + esock, "--health",
                          "127.0.0.1:0", "--describe-cmd", SCRIPT],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fport = int(p.stdout.readline().split()[1].rsplit(":", 1)[1])
    hurl = p.stdout.readline().split()[2]

    def through(method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", fport, timeout=30)
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        st = c.getresponse().status
        c.close()
        return st
    sts = [through("POST", "/sign", json.dumps({"payload": "aGVsbG8=", "nonce": "00ff"})),
           through("POST", "/sign", json.dumps({"payload": "aGVsbG8="})),
           through("GET", "/attestation?nonce=zz"), through("GET", "/nope")]
    text = parent_metrics(hurl)
    r = promcheck(text)
    check("real enclave: its counters through the parent", sts == [200, 200, 400, 404] and
          r.returncode == 0 and sample(text, "glassbox_enclave_signs_total") == 2 and
          sample(text, "glassbox_enclave_attestations_total") == 1 and
          sample(text, 'glassbox_enclave_refusals_total{reason="bad_request"}') == 1 and
          sample(text, 'glassbox_enclave_refusals_total{reason="not_found"}') == 1 and
          sample(text, "glassbox_parent_enclave_metrics_up") == 1, (sts, r.stdout[-300:], text[-900:]))
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    check("real enclave: parent stops", rc == 0, (rc, p.stderr.read()[-3000:]))
    enc.send_signal(signal.SIGTERM)
    check("real enclave: stops", enc.wait(timeout=30) == 0)

r = subprocess.run([PARENT], capture_output=True, text=True)
check("usage", r.returncode == 2 and "--forward" in r.stderr)
r = subprocess.run([PARENT, "--forward", "tcp:127.0.0.1:0=bogus"], capture_output=True, text=True)
check("bad target", r.returncode == 2 and "must start with" in r.stderr, r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
finish()

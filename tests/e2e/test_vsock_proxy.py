#!/usr/bin/env python3
"""glassbox-parent as vsock-proxy, with real sockets on 127.0.0.1 and [::1]
and a small DNS server on 127.0.0.1 (--dns-server; no query leaves the
machine): vsock-proxy's command line (`glassbox-parent vsock-proxy
LOCAL_PORT REMOTE_ADDR REMOTE_PORT --config FILE`, and a link named
vsock-proxy), AWS's stock allowlist as it is, unknown keys ignored, a
quoted port refused, a destination allowed by the address a listed name
resolves to, -4/-6, -w, and the special addresses Glassbox refuses unless
--outbound-allow-special. --listen tcp:127.0.0.1:0 stands in for the vsock
port the enclave would connect to.

usage: test_vsock_proxy.py PARENT VECTORS
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

PARENT = os.path.abspath(sys.argv[1])
STOCK = os.path.join(sys.argv[2], "aws-tooling", "vsock-proxy.yaml")
TMP = tempfile.mkdtemp(prefix="glassbox-vproxy-")

# --- a DNS server: name -> {"A": [...], "AAAA": [...]}, TTL 1 s ------------
zone = {}
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.bind(("127.0.0.1", 0))
DNS = f"127.0.0.1:{dns.getsockname()[1]}"


def dns_serve():
    while True:
        try:
            q, peer = dns.recvfrom(512)
        except OSError:
            return
        labels, end = [], 12
        while q[end] != 0:
            labels.append(q[end + 1:end + 1 + q[end]].decode().lower())
            end += 1 + q[end]
        qtype = struct.unpack(">H", q[end + 1:end + 3])[0]
        question = q[12:end + 5]
        entry = zone.get(".".join(labels))
        answers = b""
        count = 0
        if entry is not None:
            kind = {1: "A", 28: "AAAA"}.get(qtype)
            for addr in entry.get(kind, []) if kind else []:
                data = socket.inet_pton(socket.AF_INET if kind == "A" else socket.AF_INET6, addr)
                answers += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 1, len(data)) + data
                count += 1
        flags = b"\x81\x80" if entry is not None else b"\x81\x83"   # NXDOMAIN
        dns.sendto(q[:2] + flags + struct.pack(">HHHH", 1, count, 0, 0) + question + answers, peer)


threading.Thread(target=dns_serve, daemon=True).start()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


P = free_port()                         # the services' port


def replier(family, host, port, word):
    """Answers every connection with word, then closes."""
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)

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


def echo(port):
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(16)

    def one(c):
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
        c.close()

    def run():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(c,), daemon=True).start()
    threading.Thread(target=run, daemon=True).start()
    return s


servers = [replier(socket.AF_INET, "127.0.0.1", P, b"v4"),
           replier(socket.AF_INET, "127.0.0.2", P, b"second"),
           replier(socket.AF_INET6, "::1", P, b"v6")]
E = free_port()
servers.append(echo(E))

zone.update({
    "svc.glassbox.test": {"A": ["127.0.0.1"]},
    "alias.glassbox.test": {"A": ["127.0.0.1"]},
    "dual.glassbox.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "v6only.glassbox.test": {"AAAA": ["::1"]},
    "echo.glassbox.test": {"A": ["127.0.0.1"]},
    # For the stock file: one of its names, and one that is not listed.
    "kms.us-east-1.amazonaws.com": {"A": ["127.0.0.8"]},
    "kms.eu-west-1.amazonaws.com": {"A": ["127.0.0.9"]},
    "kms-alias.glassbox.test": {"A": ["127.0.0.9"]},
    "other.glassbox.test": {"A": ["127.0.0.10"]},
})

LIST = os.path.join(TMP, "vsock-proxy.yaml")


def write_list(text):
    with open(LIST, "w") as f:
        f.write(text)


GOOD = (f"# unknown keys, as vsock-proxy ignores them\nversion: 1\nallowlist:\n"
        f"- {{address: svc.glassbox.test, port: {P}, protocol: tcp}}\n"
        f"- {{address: dual.glassbox.test, port: {P}}}\n"
        f"- {{address: v6only.glassbox.test, port: {P}}}\n"
        f"- {{address: echo.glassbox.test, port: {E}}}\n")


class Proxy:
    """glassbox-parent vsock-proxy ARGS, listening on 127.0.0.1 (its port
    from the first line), DNS from the test's server."""

    def __init__(self, *args, config=LIST, special=True, argv0=None):
        cmd = [argv0] if argv0 else [PARENT, "vsock-proxy"]
        cmd += [*args, "--config", config, "--listen", "tcp:127.0.0.1:0",
                "--dns-server", DNS]
        if special:
            cmd.append("--outbound-allow-special")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.line = self.p.stdout.readline()
        self.port = None
        if self.line.startswith("outbound tcp:127.0.0.1:"):
            self.port = int(self.line.split()[1].rsplit(":", 1)[1])
        self.err = ""

    def fetch(self, send=None):
        c = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            if send:
                c.sendall(send)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    return data
                data += d
        except OSError:
            return b""
        finally:
            c.close()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=30)
        self.err = self.p.stderr.read()
        return rc


def refused(*args, config=LIST, special=True):
    """(exit status, stderr) of a start that should fail."""
    cmd = [PARENT, "vsock-proxy", *args]
    if config:
        cmd += ["--config", config]
    cmd += ["--listen", "tcp:127.0.0.1:0", "--dns-server", DNS]
    if special:
        cmd.append("--outbound-allow-special")
    q = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = q.communicate(timeout=60)
        return q.returncode, err
    except subprocess.TimeoutExpired:
        q.kill()
        return None, q.communicate()[1]


# 1. AWS's stock file, as it is (76 entries; the former limit was 64).
px = Proxy("8000", "kms.us-east-1.amazonaws.com", "443", config=STOCK)
check("stock file: starts", px.line.startswith("outbound tcp:127.0.0.1:") and
      px.line.rstrip().endswith("-> kms.us-east-1.amazonaws.com:443"), px.line)
check("stock file: stops", px.stop() == 0)
check("stock file: allowed by name", '"event":"allowed"' in px.err and
      '"detail":"on the allowlist"' in px.err, px.err[-500:])
check("stock file: no key ignored", "allowlist_ignored" not in px.err, px.err[-500:])
# Not listed by name, but it resolves to the address of a listed name
# (kms.eu-west-1's, the 30-somethingth entry), as vsock-proxy matches.
px = Proxy("8000", "kms-alias.glassbox.test", "443", config=STOCK)
check("stock file: allowed by a listed name's address", px.port is not None, px.line)
check("stock file: by-address parent stops", px.stop() == 0)
rc, err = refused("8000", "other.glassbox.test", "443", config=STOCK)
check("stock file: an address no listed name has is refused at start",
      rc == 2 and "no name listed with its port resolves to its address" in err and
      "127.0.0.10 is not an address of a name the allowlist lists" in err, err[-600:])
rc, err = refused("8000", "kms.us-east-1.amazonaws.com", "8443", config=STOCK)
check("stock file: another port is refused", rc == 2 and "not on the allowlist" in err, err[-300:])
if not os.path.exists("/etc/nitro_enclaves/vsock-proxy.yaml"):
    rc, err = refused("8000", "kms.us-east-1.amazonaws.com", "443", config=None)
    check("--config defaults to /etc/nitro_enclaves/vsock-proxy.yaml",
          rc == 2 and "cannot open /etc/nitro_enclaves/vsock-proxy.yaml" in err, err[-300:])

# 2. A real proxy: listed by name, unknown keys ignored (and logged).
write_list(GOOD)
px = Proxy("8000", "svc.glassbox.test", str(P))
check("vsock-proxy command line: starts", px.port is not None, px.line)
check("vsock-proxy command line: relays", px.fetch() == b"v4")
check("no health port unless asked for", "health on" not in px.line)
check("name-listed parent stops", px.stop() == 0)
check("unknown keys ignored and logged", '"event":"allowlist_ignored"' in px.err and
      "2 key(s) ignored" in px.err and 'key \\"version\\"' in px.err, px.err[-500:])

# The same through a link named vsock-proxy.
link = os.path.join(TMP, "vsock-proxy")
os.symlink(PARENT, link)
px = Proxy("8000", "svc.glassbox.test", str(P), argv0=link)
check("a link named vsock-proxy: relays", px.port is not None and px.fetch() == b"v4", px.line)
check("link parent stops", px.stop() == 0)

# 3. Allowed by address: a literal address, or another name, that a
#    listed name (with the port) resolves to.
px = Proxy("8000", "127.0.0.1", str(P))
check("a literal address a listed name resolves to: relays",
      px.port is not None and px.fetch() == b"v4", px.line + px.err)
check("literal parent stops", px.stop() == 0)
rc, err = refused("8000", "127.0.0.2", str(P))
check("a literal address no listed name has: refused at start",
      rc == 2 and "not on the allowlist" in err and "127.0.0.2 is not an address" in err, err[-500:])
px = Proxy("8000", "alias.glassbox.test", str(P))
check("an unlisted name with a listed name's address: relays",
      px.port is not None and px.fetch() == b"v4", px.line)
# Checked again at each lookup (vsock-proxy checks only at start): when
# the alias moves to an address no listed name has, it is refused...
zone["alias.glassbox.test"] = {"A": ["127.0.0.2"]}
time.sleep(2.5)                         # the TTL is 1 s
check("the alias moved away: refused", px.fetch() == b"")
# ... until the listed name follows it there.
zone["svc.glassbox.test"] = {"A": ["127.0.0.2"]}
time.sleep(2.5)
check("the listed name followed: relays to the new address", px.fetch() == b"second")
check("alias parent stops", px.stop() == 0)
check("the refusal is logged", '"event":"address_refused"' in px.err and
      "127.0.0.2 is not an address of a name the allowlist lists with this port" in px.err,
      px.err[-600:])
zone["alias.glassbox.test"] = zone["svc.glassbox.test"] = {"A": ["127.0.0.1"]}

# 4. A quoted port is a string, which vsock-proxy refuses; so does Glassbox.
write_list(f"allowlist:\n- {{address: svc.glassbox.test, port: '{P}'}}\n")
rc, err = refused("8000", "svc.glassbox.test", str(P))
check("quoted port refused", rc == 2 and 'bad field "port": quoted' in err, err[-300:])
write_list(f"allowlist:\n- {{address: svc.glassbox.test, port: \"{P}\"}}\n")
rc, err = refused("8000", "svc.glassbox.test", str(P))
check("double-quoted port refused", rc == 2 and "quoted" in err, err[-300:])
write_list(GOOD)

# 5. -4 and -6: which of a name's addresses are used.
for args, want, what in ((["dual.glassbox.test"], b"v4", "default: IPv4 first"),
                         (["-6", "dual.glassbox.test"], b"v6", "-6: IPv6"),
                         (["--ipv6", "dual.glassbox.test"], b"v6", "--ipv6: IPv6"),
                         (["-4", "dual.glassbox.test"], b"v4", "-4: IPv4"),
                         (["v6only.glassbox.test"], b"v6", "default: IPv6 when there is no IPv4")):
    px = Proxy(*args[:-1], "8000", args[-1], str(P))
    check(f"{what}", px.port is not None and px.fetch() == want, px.line)
    px.stop()
px = Proxy("-4", "8000", "v6only.glassbox.test", str(P))
check("-4 and a name with only IPv6: no connection", px.fetch() == b"")
px.stop()
check("-4 and a name with only IPv6: logged", '"event":"resolve_failed"' in px.err and
      "no IPv4 address" in px.err, px.err[-400:])
rc, err = refused("-4", "-6", "8000", "dual.glassbox.test", str(P))
check("-4 and -6 exclude each other", rc == 2 and "exclude each other" in err, err)
# A literal of the other family is not used: by address, it is refused.
rc, err = refused("-6", "8000", "127.0.0.1", str(P))
check("-6 and an IPv4 address: refused", rc == 2 and "an IPv4 address, and -6" in err, err[-400:])

# 6. -w: connections served at once; one more is closed at once.
px = Proxy("-w", "1", "8000", "echo.glassbox.test", str(E))
held = socket.create_connection(("127.0.0.1", px.port), timeout=10)
held.sendall(b"a")
check("-w 1: the first connection is served", held.recv(1) == b"a")
check("-w 1: a second is closed at once", px.fetch(b"b") == b"")
held.close()
time.sleep(0.5)
check("-w 1: served again once the first has closed", px.fetch(b"c") == b"c")
px.stop()
check("-w 1: the refusal is logged", '"detail":"connection limit"' in px.err, px.err[-400:])
for bad in ("0", "x", "-1"):
    rc, err = refused("-w", bad, "8000", "svc.glassbox.test", str(P))
    check(f"-w {bad} refused", rc == 2 and "workers" in err, err[-300:])

# 7. Glassbox is stricter on purpose: special addresses (here loopback)
#    are refused unless --outbound-allow-special.
px = Proxy("8000", "svc.glassbox.test", str(P), special=False)
check("without --outbound-allow-special: loopback refused", px.fetch() == b"")
px.stop()
check("the loopback refusal is logged", "127.0.0.1 is loopback" in px.err, px.err[-400:])

# 8. SIGHUP reads --config again.
px = Proxy("8000", "svc.glassbox.test", str(P))
check("before the reload", px.fetch() == b"v4")
write_list(f"allowlist:\n- {{address: svc.glassbox.test, port: {E}}}\n")
px.p.send_signal(signal.SIGHUP)
time.sleep(0.7)
check("SIGHUP: withdrawn", px.fetch() == b"")
write_list(GOOD)
px.p.send_signal(signal.SIGHUP)
time.sleep(0.7)
check("SIGHUP: allowed again", px.fetch() == b"v4")
px.stop()

# 9. The command line's errors.
r = subprocess.run([PARENT, "vsock-proxy", "--help"], capture_output=True, text=True)
check("--help", r.returncode == 0 and "LOCAL_PORT REMOTE_ADDR REMOTE_PORT" in r.stdout and
      "--num_workers" in r.stdout, r.stdout[:200])
r = subprocess.run([link, "-h"], capture_output=True, text=True)
check("-h through the link", r.returncode == 0 and "--outbound-allow-special" in r.stdout)
for args, what in ((["8000", "svc.glassbox.test"], "REMOTE_PORT missing"),
                   (["8000", "svc.glassbox.test", "0443"], "remote port"),
                   (["8000", "svc.glassbox.test", "65536"], "remote port"),
                   (["x", "svc.glassbox.test", str(P)], "local port"),
                   (["8000", "a=b", str(P)], "remote address"),
                   (["--bogus", "8000", "svc.glassbox.test", str(P)], "usage")):
    r = subprocess.run([PARENT, "vsock-proxy", *args, "--config", LIST],
                       capture_output=True, text=True, timeout=30)
    check(f"refused: {what}", r.returncode == 2 and r.stderr != "", r.stderr[-200:])
r = subprocess.run([PARENT, "--help"], capture_output=True, text=True)
check("glassbox-parent --help names the vsock-proxy command line",
      "vsock-proxy" in r.stdout and "--ipv4" in r.stdout, r.stdout[-400:])

for s in servers + [dns]:
    s.close()
shutil.rmtree(TMP, ignore_errors=True)
finish()

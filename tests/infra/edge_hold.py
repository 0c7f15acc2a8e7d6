"""Holds N slow requests open against nginx, then runs a command.

Each of the N TLS connections sends a whole request head for a POST with
a 60000-byte body, then only the body's first byte, and waits: nginx is
reading that body (it counts against limit_conn, and with request
buffering it never reaches the verifier). While they are held, the
command given after -- runs; its output and exit status are passed on.
Everything stays on 127.0.0.1; the connections close when the command ends.

usage: python3 edge_hold.py PORT CAFILE N -- COMMAND...
"""
import socket
import ssl
import subprocess
import sys


def main():
    port, cafile, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if sys.argv[4] != "--" or n < 0 or n > 100:
        sys.exit("usage: edge_hold.py PORT CAFILE N -- COMMAND...")
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    held = []
    try:
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: 60000\r\n\r\n{")
            held.append(s)
        done = subprocess.run(sys.argv[5:], check=False)
        status = done.returncode
    finally:
        for s in held:
            s.close()
    sys.exit(status)


main()

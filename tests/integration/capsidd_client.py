"""Clients for capsidd's tests that curl cannot be: an exec websocket
(RFC 6455 over TLS, written out here so the test depends on nothing but
Python) and a slow-loris client.

  capsidd_client.py exec WSS_URI PASSWORD CA INPUT [RESIZE [UNTIL]]
      open the session, send the password, then RESIZE (e.g. 40x100; "-":
      none) as "\\x1b[8;40;100t", then INPUT (when not empty); print every
      output frame and the close frame's code and reason ("close 1000 exit
      code 0"), or stop once the output holds UNTIL (attach's stream has
      no end of its own).
  capsidd_client.py loris HOST PORT CA SECONDS
      send a request's headers one byte a second; print what the server
      answered when it closed the connection, and after how long.
"""
import base64
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse


def tls(host, port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection((host, port), timeout=60)
    return ctx.wrap_socket(raw, server_hostname=host)


def frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


def read_frame(s):
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


def do_exec(uri, password, ca, text, resize=None, until=None):
    u = urllib.parse.urlparse(uri)
    s = tls(u.hostname, u.port, ca)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(s, 1)
    status = head.split(b"\r\n")[0].decode()
    if " 101 " not in status:
        print("upgrade refused:", status)
        return 1
    s.sendall(frame(1, password.encode()))
    if resize and resize != "-":
        rows, cols = resize.split("x")
        s.sendall(frame(1, f"\x1b[8;{rows};{cols}t".encode()))
    if text:
        s.sendall(frame(1, text.encode()))
    seen = ""
    while True:
        op, payload = read_frame(s)
        if op in (1, 2):
            sys.stdout.write(payload.decode(errors="replace"))
            sys.stdout.flush()
            seen += payload.decode(errors="replace")
            if until and until in seen:
                print("\nseen", until)
                return 0
        elif op == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            print(f"\nclose {code} {payload[2:].decode(errors='replace')}")
            return 0


def do_loris(host, port, ca, seconds):
    s = tls(host, int(port), ca)
    start = time.monotonic()
    request = b"GET /subscriptions/x/providers/Microsoft.ContainerInstance/containerGroups HTTP/1.1\r\nHost: x\r\n"
    got = b""
    try:
        for i in range(int(seconds)):
            s.sendall(request[i % len(request) : i % len(request) + 1])
            s.settimeout(1)
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                pass
    except (OSError, ssl.SSLError):
        pass
    first = got.split(b"\r\n")[0].decode() if got else "closed"
    print(f"after {time.monotonic() - start:.1f}s: {first}")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "exec":
        sys.exit(do_exec(*sys.argv[2:6], *sys.argv[6:8]))
    if sys.argv[1] == "loris":
        sys.exit(do_loris(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
    sys.exit(2)

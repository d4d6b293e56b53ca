#!/usr/bin/env python3
"""Hostile ttrpc frames against a live containerd-shim-capsid-v2 socket.

Each bad frame must get an error status (or, for a frame the connection
cannot survive, a closed connection), never a crash: the caller then checks
that the shim still serves containerd.
usage: ttrpc_hostile.py SOCKET
"""
import socket
import struct
import sys


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def request(service, method, payload=b""):
    return field(1, service.encode()) + field(2, method.encode()) + field(3, payload)


def frame(stream, typ, payload, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">IIBB", n, stream, typ, 0) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def answer(s):
    hdr = recv_exact(s, 10)
    if hdr is None:
        return None
    n, stream, typ, _ = struct.unpack(">IIBB", hdr)
    body = recv_exact(s, n) if n else b""
    # Response: field 1 status {1: code varint, 2: message}, field 2 payload
    code = 0
    i = 0
    while i < len(body):
        key = body[i]
        i += 1
        ln = 0
        shift = 0
        while True:
            b = body[i]
            i += 1
            ln |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if key == 0x0A:  # status
            st = body[i : i + ln]
            if st[:1] == b"\x08":
                code = st[1]
        i += ln
    return stream, typ, code


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s


def main():
    path = sys.argv[1]
    fails = []
    s = connect(path)
    cases = [
        ("unknown service", frame(1, 1, request("evil.Service", "Create")), 12),
        ("unknown method", frame(3, 1, request("containerd.task.v2.Task", "Explode")), 12),
        ("garbage envelope", frame(5, 1, b"\xff" * 40), 3),
        ("garbage payload", frame(7, 1, request("containerd.task.v2.Task", "State", b"\xff\xff\xff")), 3),
        ("even stream id", frame(8, 1, request("containerd.task.v2.Task", "State")), 3),
        ("unknown task", frame(9, 1, request("containerd.task.v2.Task", "State", field(1, b"nope"))), 5),
    ]
    for name, data, want in cases:
        s.sendall(data)
        got = answer(s)
        if got is None or got[2] != want:
            fails.append("%s: answer %r, want code %d" % (name, got, want))
    # oversized: answered RESOURCE_EXHAUSTED, then the connection ends
    s.sendall(frame(11, 1, b"", length=64 << 20))
    got = answer(s)
    if got is None or got[2] != 8:
        fails.append("oversized: answer %r, want code 8" % (got,))
    if answer(s) is not None:
        fails.append("oversized: the connection stayed open")
    s.close()
    # truncated: a header announcing more than is sent, then close
    s = connect(path)
    s.sendall(frame(1, 1, b"\x0a\x05ab", length=100))
    s.close()
    # a data message where a request was due: the connection ends
    s = connect(path)
    s.sendall(frame(1, 3, b"xyz"))
    if answer(s) is not None:
        fails.append("data message: answered, want the connection closed")
    s.close()
    for f in fails:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A stand-in for QEMU that plays a hostile guest on the agent channel.

capsid starts it with QEMU's command line (CAPSID_QEMU=this file); it serves
the agent socket named there and, depending on FAKE_AGENT_MODE, sends:
  garbage   - bytes that are not a frame
  oversized - a frame header announcing a 64 MiB body
  early     - a STDOUT frame before HELLO
  badexit   - a valid HELLO, answers NEGOTIATE and NETWORK, then an EXIT
              whose exitCode is a string
  silent    - accepts the connection and never says anything
  flood     - a valid start, then STDOUT frames of its container as fast
              as the channel takes them, reading nothing more
It then keeps the connection open (a hostile guest does not hang up) until
killed, as QEMU would be.
"""
import os, re, socket, struct, sys, time, json

MAGIC = 0x44535043
mode = os.environ.get("FAKE_AGENT_MODE", "garbage")
args = " ".join(sys.argv[1:])
path = re.search(r"socket,id=agent,path=([^,]+)", args).group(1)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
conn, _ = srv.accept()

def frame(ftype, fid, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return struct.pack("<IHHII", MAGIC, ftype, 0, fid, len(data)) + data

def read_frame():
    hdr = b""
    while len(hdr) < 16:
        hdr += conn.recv(16 - len(hdr))
    magic, ftype, flags, fid, length = struct.unpack("<IHHII", hdr)
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return ftype, fid, body

if mode == "garbage":
    conn.sendall(b"GET / HTTP/1.1\r\nHost: capsid\r\n\r\n" * 4)
elif mode == "oversized":
    conn.sendall(struct.pack("<IHHII", MAGIC, 4, 0, 1, 64 << 20) + b"x" * 1024)
elif mode == "early":
    conn.sendall(frame(4, 1, b"hello before HELLO"))
elif mode in ("badexit", "flood"):
    conn.sendall(frame(1, 0, {"min": 1, "max": 1, "runtimes": ["builtin", "crun", "runc"]}))
    while True:
        ftype, fid, body = read_frame()
        if ftype in (16, 25, 26):  # NEGOTIATE, NETWORK, VOLUMES
            conn.sendall(frame(2, fid, {}))
        elif ftype == 17:  # CREATE
            conn.sendall(frame(2, fid, {}))
            stream = json.loads(body)["stream"]
        elif ftype == 18:  # START
            conn.sendall(frame(2, fid, {"pid": 2}))
            if mode == "badexit":
                conn.sendall(frame(6, stream, {"exitCode": "zero"}))
                break
            # Frames of 64 KiB, each ending with its own number, 16 to a
            # write: the stand-in writes faster than a monitor can read.
            block = b"x" * 100 + b"\n"
            block = block * (65536 // len(block))
            n = 0
            try:
                while True:
                    conn.sendall(b"".join(frame(4, stream, block + b"flood %012d\n" % (n + i)) for i in range(16)))
                    n += 16
            except OSError:
                break
while True:
    time.sleep(60)

#!/usr/bin/env python3
"""A small test client for the capsid host<->agent protocol (common/proto.h),
spoken over QEMU's virtio-serial chardev socket. Standard library only.

As a library:
    c = AgentClient.connect("agent.sock")
    hello = c.hello()                  # waits for HELLO, then negotiates
    c.request(CREATE, {...})           # -> response body, raises AgentError
    out = c.run("web", 5, ...)         # create + start + collect + exit

As a command (debugging):
    agent_client.py SOCKET hello
    agent_client.py SOCKET run IMAGE_SERIAL RUNTIME -- ARGS...
"""
import json
import os
import socket
import struct
import sys
import time

MAGIC = 0x44535043
HEADER = struct.Struct("<IHHII")
MAX_BODY = 1 << 20

HELLO, RESPONSE, ERROR, STDOUT, STDERR, EXIT, LOG = 1, 2, 3, 4, 5, 6, 7
NEGOTIATE, CREATE, START, EXEC, SIGNAL, DELETE, SHUTDOWN, RESIZE, STATS = range(16, 25)
STDIN, STDIN_CLOSE = 32, 33

NAMES = {HELLO: "HELLO", RESPONSE: "RESPONSE", ERROR: "ERROR", STDOUT: "STDOUT", STDERR: "STDERR",
         EXIT: "EXIT", LOG: "LOG"}


class AgentError(Exception):
    """The agent answered ERROR."""


class ProtocolError(Exception):
    """The agent broke the protocol (bad frame, closed channel, timeout)."""


def encode(ftype, fid, body=b"", flags=0):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return HEADER.pack(MAGIC, ftype, flags, fid, len(body)) + body


class Stream:
    """Output and exit of one stream id."""

    def __init__(self):
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.exit = None
        self.order = []  # frame types in arrival order (STDOUT/STDERR/EXIT)


class AgentClient:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.next_id = 1
        self.answers = {}
        self.streams = {}
        self.logs = []
        self.hello_body = None

    @classmethod
    def connect(cls, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return cls(s)
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, ftype, fid, body=b""):
        self.send_raw(encode(ftype, fid, body))

    def stream(self, sid):
        return self.streams.setdefault(sid, Stream())

    def _read_frame(self, deadline):
        while True:
            if len(self.buf) >= HEADER.size:
                magic, ftype, flags, fid, length = HEADER.unpack_from(self.buf)
                if magic != MAGIC or flags != 0 or length > MAX_BODY:
                    raise ProtocolError("bad frame header from the agent: %r" % bytes(self.buf[:16]))
                if len(self.buf) >= HEADER.size + length:
                    body = bytes(self.buf[HEADER.size:HEADER.size + length])
                    del self.buf[:HEADER.size + length]
                    return ftype, fid, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("timed out waiting for the agent")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                raise ProtocolError("timed out waiting for the agent") from None
            if not chunk:
                raise ProtocolError("the agent channel closed")
            self.buf += chunk

    def pump(self, deadline):
        """Read and file one frame."""
        ftype, fid, body = self._read_frame(deadline)
        if ftype in (RESPONSE, ERROR):
            self.answers[fid] = (ftype, json.loads(body) if body else {})
        elif ftype in (STDOUT, STDERR):
            st = self.stream(fid)
            (st.stdout if ftype == STDOUT else st.stderr).extend(body)
            st.order.append(ftype)
        elif ftype == EXIT:
            st = self.stream(fid)
            if st.exit is not None:
                raise ProtocolError("second EXIT for stream %d" % fid)
            st.exit = json.loads(body)
            st.order.append(EXIT)
        elif ftype == LOG:
            msg = json.loads(body)
            self.logs.append(msg)
            if os.environ.get("AGENT_CLIENT_VERBOSE"):
                print("agent log: %s" % msg.get("message"), file=sys.stderr)
        elif ftype == HELLO:
            self.hello_body = json.loads(body)
        else:
            raise ProtocolError("unexpected frame type %d from the agent" % ftype)
        return ftype, fid

    def hello(self, timeout=60.0, negotiate=True):
        deadline = time.monotonic() + timeout
        while self.hello_body is None:
            self.pump(deadline)
        if negotiate:
            answer = self.request(NEGOTIATE, {"version": 1})
            assert answer == {"version": 1}, answer
        return self.hello_body

    def send_request(self, ftype, body):
        rid = self.next_id
        self.next_id += 1
        self.send(ftype, rid, body)
        return rid

    def wait_answer(self, rid, timeout=60.0):
        deadline = time.monotonic() + timeout
        while rid not in self.answers:
            self.pump(deadline)
        return self.answers.pop(rid)

    def request(self, ftype, body, timeout=60.0):
        kind, answer = self.wait_answer(self.send_request(ftype, body), timeout)
        if kind == ERROR:
            raise AgentError(answer.get("error", answer))
        return answer

    def wait_exit(self, sid, timeout=60.0):
        deadline = time.monotonic() + timeout
        st = self.stream(sid)
        while st.exit is None:
            self.pump(deadline)
        return st

    def wait_output(self, sid, needle, timeout=30.0, stderr=False):
        deadline = time.monotonic() + timeout
        st = self.stream(sid)
        while needle not in (st.stderr if stderr else st.stdout):
            self.pump(deadline)
        return st

    def create(self, name, stream, args, runtime="builtin", serial="img0", fstype="erofs", **extra):
        body = {"container": name, "stream": stream, "runtime": runtime,
                "image": {"serial": serial, "fstype": fstype}, "args": args,
                "env": ["PATH=/bin:/usr/bin"], "cwd": "/", "hostname": name, "tty": False}
        body.update(extra)
        return self.request(CREATE, body, timeout=120.0)

    def run(self, name, stream, args, timeout=120.0, **kw):
        """Create, start, wait for EXIT, delete. Returns the Stream."""
        self.create(name, stream, args, **kw)
        self.request(START, {"container": name}, timeout=timeout)
        st = self.wait_exit(stream, timeout)
        self.request(DELETE, {"container": name}, timeout=timeout)
        return st


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    c = AgentClient.connect(argv[1])
    print(json.dumps(c.hello()))
    if argv[2] == "run":
        serial, runtime = argv[3], argv[4]
        args = argv[argv.index("--") + 1:]
        st = c.run("cli", 1, args, runtime=runtime, serial=serial)
        sys.stdout.write(st.stdout.decode(errors="replace"))
        sys.stderr.write(st.stderr.decode(errors="replace"))
        print(json.dumps(st.exit))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""The checks of integration.agent against one booted guest:
agent_checks.py SOCKET RUNTIME KERNEL BOOT_START_EPOCH

Each check raises on failure; the guest is shut down at the end (SHUTDOWN),
and the caller verifies that QEMU exits."""
import re
import sys
import time

from agent_client import (AgentClient, AgentError, CREATE, DELETE, ERROR, EXEC, EXIT, NEGOTIATE,
                          ProtocolError, RESIZE, RESPONSE, SHUTDOWN, SIGNAL, START, STATS, STDIN,
                          STDIN_CLOSE, encode)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def case_(what):
    """Name the case that follows in the test's output, as lib.sh's case_ does."""
    print("--- case: %s" % what, flush=True)


# What each check of Checks is about, as its case line names it.
CASES = {
    "hello_world": "CREATE and START a container: its pid, its output, one EXIT last",
    "stdout_stderr": "stdout and stderr arrive apart",
    "big_output": "1 MiB of output arrives whole",
    "kernel_and_hostname": "the container sees the guest kernel and the group's hostname",
    "container_aslr": "a container's process gets the default personality (ASLR)",
    "isolation": "capabilities, device filter, masked /proc, own pid 1, only stdio held",
    "user_resolution": "users and groups resolve from the image",
    "recreate_same_name": "a container name can be used again after DELETE",
    "bad_requests": "bad requests are errors; a missing binary fails START or exits non-zero",
    "malformed_frames": "bad JSON, a wrong type, garbage and an oversized frame: ERROR, channel usable",
    "input_bursts": "every frame of a burst is handled, however reads split it",
    "exec_and_signals": "EXEC (exit code, cgroup, stdio, stdin, tty, user) and SIGNAL",
    "stdio_edges": "rlimits, big stdin and output, a held pipe, an init's stdin pipe and tty",
    "localhost_between_containers": "two containers reach each other on localhost",
    "delete_running": "DELETE of a running container kills it; of a created one frees the name",
    "reconnect": "the host reconnects: a new HELLO, containers keep running, output flows",
    "shutdown": "SHUTDOWN kills what ignores SIGTERM and answers a DELETE under way",
}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(fn, needle):
    try:
        fn()
    except AgentError as e:
        check(needle in str(e), "error %r should mention %r" % (str(e), needle))
        return str(e)
    raise AssertionError("expected an ERROR mentioning %r" % needle)


class Checks:
    def __init__(self, client, runtime, kernel):
        self.c = client
        self.runtime = runtime
        self.kernel = kernel
        self.next_stream = 100
        self.timings = {}

    def stream_id(self):
        self.next_stream += 1
        return self.next_stream

    def run(self, name, args, **kw):
        return self.c.run(name, self.stream_id(), args, runtime=self.runtime, **kw)

    def exit_of(self, st, code, sig=0):
        check(st.exit is not None, "no EXIT")
        check(st.exit["exitCode"] == code and st.exit["signal"] == sig,
              "exit %r, expected code %d signal %d" % (st.exit, code, sig))
        check(RFC3339.match(st.exit["finishedAt"]), "finishedAt %r" % st.exit.get("finishedAt"))
        check(st.order.count(EXIT) == 1 and st.order[-1] == EXIT, "EXIT must be the last frame, once")

    def hello_world(self):
        sid = self.stream_id()
        t0 = time.monotonic()
        self.c.create("hello", sid, ["/bin/sh", "-c", "echo hello world; exit 3"], runtime=self.runtime)
        t1 = time.monotonic()
        answer = self.c.request(START, {"container": "hello"})
        t2 = time.monotonic()
        check(answer.get("pid", 0) > 1, "START answer %r has no pid" % answer)
        st = self.c.wait_exit(sid)
        self.c.request(DELETE, {"container": "hello"})
        check(st.stdout == b"hello world\n", "stdout %r" % st.stdout)
        check(st.stderr == b"", "stderr %r" % st.stderr)
        self.exit_of(st, 3)
        self.timings["create_ms"] = round((t1 - t0) * 1000)
        self.timings["start_ms"] = round((t2 - t1) * 1000)

    def stdout_stderr(self):
        st = self.run("split", ["/bin/sh", "-c", "echo out; echo err >&2; echo out2; echo err2 >&2"])
        check(st.stdout == b"out\nout2\n", "stdout %r" % st.stdout)
        check(st.stderr == b"err\nerr2\n", "stderr %r" % st.stderr)
        self.exit_of(st, 0)

    def big_output(self):
        size = 1 << 20
        st = self.run("big", ["/bin/sh", "-c", "dd if=/dev/zero bs=4096 count=256 2>/dev/null | tr '\\000' x; "
                              "echo tail >&2"])
        check(len(st.stdout) == size, "1 MiB output arrived as %d bytes" % len(st.stdout))
        check(st.stdout.count(b"x") == size, "1 MiB output corrupted")
        check(st.stderr == b"tail\n", "stderr %r" % st.stderr)
        self.exit_of(st, 0)

    def kernel_and_hostname(self):
        st = self.run("uname", ["/bin/sh", "-c", "uname -r; hostname"], hostname="group-x")
        check(st.stdout == ("%s\ngroup-x\n" % self.kernel).encode(), "uname/hostname %r" % st.stdout)

    def container_aslr(self):
        # crun itself runs without ASLR (runtime.c); the container's process
        # must get the default personality back, so its layout is random.
        st = self.run("aslr", ["/bin/sh", "-c", "cat /proc/self/personality; grep -m1 stack /proc/self/maps; "
                                               "grep -m1 stack /proc/self/maps"])
        lines = st.stdout.decode().splitlines()
        check(lines[0] == "00000000", "container personality %r" % lines[0])
        check(lines[1] != lines[2], "two processes share a stack address: %r" % lines[1:])

    def isolation(self):
        # What every runtime must enforce inside the guest: the default
        # capability set (no CAP_SYS_ADMIN), the device filter (a node of
        # the guest's disk can be made but not opened), masked and
        # read-only /proc, its own pid 1, nothing of the agent's files,
        # no descriptor but stdio (the agent's device filter program is
        # close-on-exec). ls runs in a child: it lists the shell's fds.
        script = ("grep CapEff /proc/self/status; "
                  "d=$(cat /sys/block/vda/dev); mknod /tmp/vd b ${d%:*} ${d#*:} && echo made; "
                  "head -c 1 /tmp/vd >/dev/null 2>&1 && echo disk-read || echo disk-denied; "
                  "wc -c < /proc/keys; "
                  "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-written || echo sys-ro; "
                  "mount -t tmpfs t /mnt 2>/dev/null && echo mounted || echo mount-denied; "
                  "ls /run/capsid >/dev/null 2>&1 && echo agent-visible || echo agent-hidden; "
                  "cat /proc/1/cmdline | tr '\\000' ' '; echo; ls /proc/$$/fd; cat /proc/self/cgroup")
        st = self.run("isolated", ["/bin/sh", "-c", script])
        lines = st.stdout.decode().splitlines()
        want = ["CapEff:\t00000000a80425fb", "made", "disk-denied", "0", "sys-ro", "mount-denied", "agent-hidden",
                "/bin/sh -c " + script + " ", "0", "1", "2", "0::/"]
        check(lines == want, "isolation: %r, want %r (stderr %r)" % (lines, want, st.stderr))
        self.exit_of(st, 0)

    def user_resolution(self):
        st = self.run("user", ["id"], user="app")
        check(b"uid=1000(app) gid=1000(app)" in st.stdout and b"2000(extra)" in st.stdout, "id %r" % st.stdout)
        st = self.run("user2", ["id"], user="1234:2000")
        check(st.stdout.startswith(b"uid=1234 gid=2000(extra)"), "id %r" % st.stdout)
        expect_error(lambda: self.c.create("user3", self.stream_id(), ["id"], runtime=self.runtime,
                                           user="nosuch"), "nosuch")

    def recreate_same_name(self):
        for i in range(2):
            st = self.run("again", ["/bin/sh", "-c", "echo run %d" % i])
            check(st.stdout == ("run %d\n" % i).encode(), "run %d: %r" % (i, st.stdout))

    def bad_requests(self):
        c = self.c
        expect_error(lambda: c.create("Bad_Name", self.stream_id(), ["true"]), "container")
        expect_error(lambda: c.create("x" * 64, self.stream_id(), ["true"]), "container")
        expect_error(lambda: c.create("ok", self.stream_id(), "true"), "args")
        expect_error(lambda: c.create("ok", self.stream_id(), []), "args")
        expect_error(lambda: c.create("ok", self.stream_id(), ["true"], serial="nosuchdisk"), "nosuchdisk")
        expect_error(lambda: c.create("ok", self.stream_id(), ["true"], runtime="kata"), "runtime")
        expect_error(lambda: c.create("ok", self.stream_id(), ["true"], env=["NOEQUALS"]), "env[0]")
        expect_error(lambda: c.create("ok", self.stream_id(), ["true"], resources={"memoryBytes": "1G"}),
                     "memoryBytes")
        expect_error(lambda: c.create("ok", 0, ["true"]), "stream")
        if self.runtime != "runc":
            # only runc's initramfs carries runc (build-guest.sh)
            expect_error(lambda: c.create("ok", self.stream_id(), ["true"], runtime="runc"),
                         "runtime runc is not in this guest's initramfs")
        if self.runtime == "builtin":
            expect_error(lambda: c.create("ok", self.stream_id(), ["true"], runtime="crun"),
                         "runtime crun is not in this guest's initramfs")
        expect_error(lambda: c.request(START, {"container": "nosuch"}), "no such container")
        expect_error(lambda: c.request(DELETE, {"container": "nosuch"}), "no such container")
        expect_error(lambda: c.request(SIGNAL, {"stream": 424242, "signal": 9}), "stream")
        expect_error(lambda: c.request(SIGNAL, {"stream": 1, "signal": 999}), "signal")
        expect_error(lambda: c.request(EXEC, {"container": "nosuch", "stream": 5, "args": ["true"]}),
                     "no such container")
        # A command that does not exist: CREATE only prepares, so the
        # runtime's own error comes back from START (or a non-zero exit);
        # the container stays and DELETE frees the name.
        sid = self.stream_id()
        c.create("noexec", sid, ["/no/such/binary"], runtime=self.runtime)
        try:
            c.request(START, {"container": "noexec"})
            st = c.wait_exit(sid)
            check(st.exit["exitCode"] != 0, "a missing binary exited 0")
        except AgentError as e:
            check("no/such/binary" in str(e) or "no such file" in str(e).lower(), "error %r" % str(e))
        c.request(DELETE, {"container": "noexec"})
        self.run("noexec", ["true"])

    def malformed_frames(self):
        c = self.c
        # Not JSON: an ERROR for that request id, the channel stays usable.
        rid = c.next_id
        c.next_id += 1
        c.send(STATS, rid, b"{not json")
        kind, body = c.wait_answer(rid)
        check(kind == ERROR and "JSON" in body["error"], "bad JSON answered %r %r" % (kind, body))
        # An agent->host type sent to the agent.
        rid = c.next_id
        c.next_id += 1
        c.send(RESPONSE, rid, b"{}")
        kind, body = c.wait_answer(rid)
        check(kind == ERROR, "unexpected type answered %r" % kind)
        # Garbage header: ERROR with id 0, input discarded, then back to normal.
        c.send_raw(b"\xde\xad\xbe\xef" * 8)
        kind, body = c.wait_answer(0)
        check(kind == ERROR, "garbage answered %r" % kind)
        # An oversized length in an otherwise valid header.
        c.send_raw(encode(STATS, 77, b"")[:12] + (1 << 30).to_bytes(4, "little"))
        kind, body = c.wait_answer(0)
        check(kind == ERROR and "large" in body["error"], "oversized frame answered %r %r" % (kind, body))
        time.sleep(0.2)
        check("containers" in c.request(STATS, {}), "STATS after garbage")

    def input_bursts(self):
        """Every frame of a burst is handled, whichever read brings its last
        bytes. The guest's port hands out one 4 KiB buffer per read and the
        agent reads a bounded number of times per round; poll() reports
        only what is still in the port, so a request completed by a round's
        last read but left in the agent's buffer waits for the host's next
        bytes (an exec's STDIN_CLOSE left there: no EXIT, ever). Bursts of
        1..36 pages (past two rounds) of STDIN for a stream nobody has, each
        ending in a STATS request."""
        c = self.c

        def padding(n):
            frames = []
            while n > 0:
                size = min(n, 60016)
                if 0 < n - size < 16:
                    size -= 16
                frames.append(encode(STDIN, 999999, bytes(size - 16)))
                n -= size
            return b"".join(frames)

        for pages in range(1, 37):
            rid = c.next_id
            c.next_id += 1
            stats = encode(STATS, rid, b"{}")
            c.send_raw(padding(pages * 4096 - len(stats)) + stats)
            try:
                kind, body = c.wait_answer(rid, timeout=10)
            except ProtocolError:
                raise AssertionError("STATS at the end of a %d KiB burst not answered in 10 s" % (pages * 4))
            check(kind == RESPONSE and "containers" in body, "STATS after a burst answered %r %r" % (kind, body))

    def exec_and_signals(self):
        c = self.c
        main = self.stream_id()
        c.create("sleeper", main, ["/bin/sh", "-c", "trap 'echo got TERM; exit 42' TERM; "
                                   "echo ready; while true; do sleep 0.2; done"],
                 runtime=self.runtime, resources={"memoryBytes": 64 << 20, "cpuShares": 512})
        c.request(START, {"container": "sleeper"})
        c.wait_output(main, b"ready\n")

        # exec with an exit code
        sid = self.stream_id()
        t0 = time.monotonic()
        answer = c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["/bin/sh", "-c", "echo in exec; "
                                                                                "echo e >&2; exit 7"]})
        self.timings["exec_ms"] = round((time.monotonic() - t0) * 1000)
        check(answer.get("pid", 0) > 1, "EXEC answer %r" % answer)
        st = c.wait_exit(sid)
        check(st.stdout == b"in exec\n" and st.stderr == b"e\n", "exec output %r %r" % (st.stdout, st.stderr))
        self.exit_of(st, 7)

        # an exec'd process is randomised too (crun itself runs without ASLR)
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["cat", "/proc/self/personality"]})
        st = c.wait_exit(sid)
        check(st.stdout == b"00000000\n", "exec personality %r" % st.stdout)

        # an exec'd process lives in the container's cgroup, behind its
        # cgroup namespace, and sees the container's pid 1
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid,
                         "args": ["/bin/sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; "
                                                   "tr '\\000' ' ' < /proc/1/cmdline | cut -c1-9"]})
        st = c.wait_exit(sid)
        check(st.stdout == b"0::/\n67108864\n/bin/sh -\n", "exec cgroup %r" % st.stdout)

        # an exec'd process holds its stdio only (ls in a child of the shell)
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["/bin/sh", "-c", "ls /proc/$$/fd; true"]})
        st = c.wait_exit(sid)
        check(st.stdout == b"0\n1\n2\n", "exec descriptors %r" % st.stdout)

        # exec with stdin
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["cat"]})
        c.send(STDIN, sid, b"through stdin\n")
        c.send(STDIN_CLOSE, sid)
        st = c.wait_exit(sid)
        check(st.stdout == b"through stdin\n", "cat echoed %r" % st.stdout)
        self.exit_of(st, 0)

        # exec with a tty: output through the pty, size set, resize accepted
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "tty": True, "rows": 24, "cols": 80,
                         "args": ["/bin/sh", "-c", "stty size; tty; read line; stty size; exit 5"]})
        c.wait_output(sid, b"24 80")
        c.request(RESIZE, {"stream": sid, "rows": 50, "cols": 132})
        c.send(STDIN, sid, b"go\n")
        st = c.wait_exit(sid)
        out = st.stdout.decode(errors="replace")
        check("/dev/pts/" in out and "50 132" in out, "tty output %r" % out)
        check(st.stderr == b"", "a tty has no separate stderr: %r" % st.stderr)
        self.exit_of(st, 5)
        expect_error(lambda: c.request(RESIZE, {"stream": main, "rows": 1, "cols": 1}), "tty")

        # exec as another user
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["id", "-u"], "user": "app"})
        st = c.wait_exit(sid)
        check(st.stdout == b"1000\n", "exec user %r" % st.stdout)

        # SIGNAL to an exec
        sid = self.stream_id()
        c.request(EXEC, {"container": "sleeper", "stream": sid, "args": ["sleep", "1000"]})
        c.request(SIGNAL, {"stream": sid, "signal": 9})
        self.exit_of(c.wait_exit(sid), 137, 9)

        stats = c.request(STATS, {})["containers"]
        s = stats.get("sleeper")
        check(s and s["memoryBytes"] > 0 and s["pids"] >= 1 and s["cpuUsageUsec"] >= 0, "stats %r" % stats)

        # SIGNAL to the main process: runtime kill, the trap answers
        c.request(SIGNAL, {"stream": main, "signal": 15})
        st = c.wait_exit(main)
        check(b"got TERM" in st.stdout, "trap output %r" % st.stdout)
        self.exit_of(st, 42)
        expect_error(lambda: c.request(EXEC, {"container": "sleeper", "stream": self.stream_id(),
                                              "args": ["true"]}), "not running")
        c.request(DELETE, {"container": "sleeper"})

    def stdio_edges(self):
        c = self.c
        main = self.stream_id()
        c.create("edges", main, ["sleep", "1000"], runtime=self.runtime,
                 resources={"memoryBytes": 64 << 20, "cpuShares": 512})
        c.request(START, {"container": "edges"})

        def exec_(args, stdin=None, **kw):
            sid = self.stream_id()
            body = {"container": "edges", "stream": sid, "args": args}
            body.update(kw)
            c.request(EXEC, body)
            if stdin is not None:
                for i in range(0, len(stdin), 60000):
                    c.send(STDIN, sid, stdin[i:i + 60000])
                c.send(STDIN_CLOSE, sid)
            return sid

        # resources and rlimits reach the container
        st = c.wait_exit(exec_(["/bin/sh", "-c", "cat /sys/fs/cgroup/memory.max; ulimit -n"]))
        check(st.stdout == b"67108864\n1024\n", "memory.max / NOFILE %r" % st.stdout)
        # 256 KiB of stdin, written in chunks the pipe cannot take at once
        data = bytes(range(256)) * 1024
        st = c.wait_exit(exec_(["wc", "-c"], stdin=data))
        check(st.stdout.strip() == str(len(data)).encode(), "wc -c says %r" % st.stdout)
        # 4 MiB through an exec: more than the agent's high-water mark
        st = c.wait_exit(exec_(["/bin/sh", "-c", "dd if=/dev/zero bs=65536 count=64 2>/dev/null"]), timeout=120)
        check(len(st.stdout) == 4 << 20, "4 MiB arrived as %d bytes" % len(st.stdout))
        # a daemonized grandchild keeps stdout open: EXIT comes anyway, ~2 s later
        t0 = time.monotonic()
        st = c.wait_exit(exec_(["/bin/sh", "-c", "sleep 30 & echo bg"]), timeout=30)
        waited = time.monotonic() - t0
        check(st.stdout == b"bg\n", "bg output %r" % st.stdout)
        check(1.5 <= waited < 15, "EXIT with a held pipe after %.1f s" % waited)
        self.exit_of(st, 0)
        c.request(DELETE, {"container": "edges"})
        self.exit_of(c.wait_exit(main), 137, 9)

        # a container's init with a stdin pipe (CREATE "stdin": true)
        sid = self.stream_id()
        c.create("catter", sid, ["cat"], runtime=self.runtime, stdin=True)
        c.request(START, {"container": "catter"})
        c.send(STDIN, sid, b"to the init\n")
        c.send(STDIN_CLOSE, sid)
        st = c.wait_exit(sid)
        check(st.stdout == b"to the init\n", "init stdin %r" % st.stdout)
        self.exit_of(st, 0)
        c.request(DELETE, {"container": "catter"})

        # a container whose init has a tty: output through the pty
        sid = self.stream_id()
        c.create("ttymain", sid, ["/bin/sh", "-c", "tty; stty size; exit 4"], runtime=self.runtime, tty=True,
                 rows=30, cols=100)
        c.request(START, {"container": "ttymain"})
        st = c.wait_exit(sid)
        out = st.stdout.decode(errors="replace")
        check("/dev/pts/" in out and "30 100" in out, "tty main output %r" % out)
        self.exit_of(st, 4)
        c.request(DELETE, {"container": "ttymain"})

    def localhost_between_containers(self):
        c = self.c
        web = self.stream_id()
        c.create("web", web, ["httpd", "-f", "-p", "8080", "-h", "/var/www"], runtime=self.runtime)
        c.request(START, {"container": "web"})
        st = self.run("client", ["/bin/sh", "-c", "for i in $(seq 1 100); do "
                                 "wget -q -O - http://127.0.0.1:8080/index.html && exit 0; sleep 0.1; done; "
                                 "exit 1"])
        check(st.stdout == b"hello from web\n", "client got %r (stderr %r)" % (st.stdout, st.stderr))
        self.exit_of(st, 0)
        c.request(SIGNAL, {"stream": web, "signal": 9})
        self.exit_of(c.wait_exit(web), 137, 9)
        c.request(DELETE, {"container": "web"})

    def delete_running(self):
        c = self.c
        sid = self.stream_id()
        c.create("doomed", sid, ["sleep", "1000"], runtime=self.runtime)
        c.request(START, {"container": "doomed"})
        c.request(DELETE, {"container": "doomed"})
        st = c.wait_exit(sid)
        check(st.exit["exitCode"] == 137, "deleted container exit %r" % st.exit)
        # created but never started: delete frees the name, no EXIT
        c.create("never", self.stream_id(), ["true"], runtime=self.runtime)
        c.request(DELETE, {"container": "never"})
        self.run("never", ["true"])

    def reconnect(self):
        """The host goes away and comes back: a new session starts with
        HELLO, containers keep running, and their output flows again."""
        sid = self.stream_id()
        self.c.create("survivor", sid, ["/bin/sh", "-c", "read x; echo after $x"], runtime=self.runtime,
                      stdin=True)
        self.c.request(START, {"container": "survivor"})
        sock = self.c.sock.getpeername()
        self.c.close()
        time.sleep(0.5)
        self.c = AgentClient.connect(sock)
        self.c.hello(timeout=30)
        self.c.send(STDIN, sid, b"reconnect\n")
        st = self.c.wait_exit(sid)
        check(st.stdout == b"after reconnect\n", "output after reconnect %r" % st.stdout)
        self.c.request(DELETE, {"container": "survivor"})

    def shutdown(self):
        c = self.c
        sid = self.stream_id()
        # PID 1 of a pid namespace ignores SIGTERM without a handler: the
        # agent must SIGKILL it when the timeout passes.
        c.create("stubborn", sid, ["sleep", "1000"], runtime=self.runtime)
        c.request(START, {"container": "stubborn"})
        # a DELETE still running when SHUTDOWN arrives is answered too
        last = self.stream_id()
        c.create("last", last, ["true"], runtime=self.runtime)
        c.request(START, {"container": "last"})
        c.wait_exit(last)
        t0 = time.monotonic()
        delete_id = c.send_request(DELETE, {"container": "last"})
        c.request(SHUTDOWN, {"timeoutMs": 1000}, timeout=60)
        check(time.monotonic() - t0 >= 0.9, "SHUTDOWN answered before its timeout")
        kind, body = c.wait_answer(delete_id, timeout=1)
        check(kind == RESPONSE, "DELETE during SHUTDOWN answered %r %r" % (kind, body))
        st = c.stream(sid)
        self.exit_of(st, 137, 9)  # EXIT arrived before the answer


def main(argv):
    sock, runtime, kernel, boot_start = argv[1], argv[2], argv[3], float(argv[4])
    c = AgentClient.connect(sock)
    case_("HELLO names the kernel and the runtimes (%s); NEGOTIATE comes first, a wrong version is refused" % runtime)
    hello = c.hello(negotiate=False)
    hello_s = time.time() - boot_start
    check(hello["min"] == 1 and hello["max"] >= 1, "HELLO %r" % hello)
    check(hello["kernel"] == kernel, "HELLO kernel %r, image has %r" % (hello["kernel"], kernel))
    # each runtime's initramfs adds to the one before (build-guest.sh)
    want = {"builtin": {"builtin"}, "crun": {"builtin", "crun"}}.get(runtime, {"builtin", "crun", "runc"})
    check(set(hello["runtimes"]) == want, "HELLO runtimes %r, want %r" % (hello["runtimes"], want))
    expect_error(lambda: c.request(STATS, {}), "NEGOTIATE")
    expect_error(lambda: c.request(NEGOTIATE, {"version": 99}), "version")
    check(c.request(NEGOTIATE, {"version": 1}) == {"version": 1}, "NEGOTIATE")

    t = Checks(c, runtime, kernel)
    for name in ["hello_world", "stdout_stderr", "big_output", "kernel_and_hostname", "container_aslr",
                 "isolation", "user_resolution",
                 "recreate_same_name", "bad_requests", "malformed_frames", "input_bursts", "exec_and_signals",
                 "stdio_edges",
                 "localhost_between_containers", "delete_running", "reconnect", "shutdown"]:
        case_("%s (%s)" % (CASES[name], runtime))
        t0 = time.monotonic()
        getattr(t, name)()
        print("  ok %-30s %6.0f ms" % (name, (time.monotonic() - t0) * 1000), flush=True)
    print("  %s: HELLO %.2f s after QEMU start; create %d ms, start %d ms, exec %d ms" %
          (runtime, hello_s, t.timings["create_ms"], t.timings["start_ms"], t.timings["exec_ms"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""A registry (OCI distribution API v2 over TLS) that misbehaves on purpose,
plus a well-behaved one behind the bearer-token flow, for the pull tests.

It serves the image of one OCI layout (tag v1) under repositories whose first
path component picks the behaviour:

  bearer/app        401 with a Bearer challenge; /token hands out a token for
                    USER:PASS (basic auth); manifests and blobs need it
  huge/app          the manifest declares a layer of 10 TB
  mismatch/app      a layer's bytes differ from its digest (same size)
  oversize/app      the manifest declares a layer smaller than what is sent
  nottar/app        a layer (correct digest and diff_id) that is not a tar
  redirhttp/app     blobs redirect to an http:// URL
  redirfile/app     blobs redirect to file:///etc/passwd
  redirok/app       blobs redirect to https://127.0.0.1:PORT/storage/...
  stall/app         blobs send a few bytes and then nothing
  badchallenge/app  401 with a malformed WWW-Authenticate header
  resume/app        the last layer stalls until the file RESUME_FLAG exists;
                    Range requests are answered (206) and logged as
                    "range DIGEST from N"
  dup/app           a layer listed twice (as images repeat empty layers)
  slow/app          every layer takes 0.5 s; the most layers in flight at
                    once is logged as "slow max N"

Every blob request is appended to LOG as "REPO DIGEST".
usage: evil_registry.py PORT CERT KEY LAYOUT USER PASS RESUME_FLAG LOG
"""
import base64
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time

PORT, CERT, KEY, LAYOUT, USER, PASS, FLAG, LOG = sys.argv[1:9]
TOKEN = "tok-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
log_lock = threading.Lock()
in_flight = [0, 0]  # now, most


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def load_layout(path):
    blobs = {}
    d = os.path.join(path, "blobs", "sha256")
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            blobs["sha256:" + name] = f.read()
    index = json.load(open(os.path.join(path, "index.json")))
    manifest = blobs[index["manifests"][0]["digest"]]
    return manifest, blobs


BASE_MANIFEST, BASE_BLOBS = load_layout(LAYOUT)


def variant(kind):
    """(manifest bytes, blobs, bodies served instead of the stored ones)."""
    m = json.loads(BASE_MANIFEST)
    blobs = dict(BASE_BLOBS)
    served = {}
    if kind == "huge":
        m["layers"][-1]["size"] = 10 * 10**12
    elif kind == "mismatch":
        d = m["layers"][0]["digest"]
        served[d] = bytes(len(blobs[d]))
    elif kind == "oversize":
        m["layers"][0]["size"] = 100
    elif kind == "nottar":
        junk = b"this is not a tar archive\n" * 200
        cfg = json.loads(blobs[m["config"]["digest"]])
        cfg["rootfs"]["diff_ids"] = [sha(junk)]
        cfg_b = json.dumps(cfg).encode()
        blobs[sha(cfg_b)] = cfg_b
        blobs[sha(junk)] = junk
        m["config"] = {"mediaType": m["config"]["mediaType"], "digest": sha(cfg_b), "size": len(cfg_b)}
        m["layers"] = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(junk),
                        "size": len(junk)}]
    elif kind == "dup":
        cfg = json.loads(blobs[m["config"]["digest"]])
        cfg["rootfs"]["diff_ids"].insert(1, cfg["rootfs"]["diff_ids"][-1])
        m["layers"].insert(1, m["layers"][-1])
        cfg_b = json.dumps(cfg).encode()
        blobs[sha(cfg_b)] = cfg_b
        m["config"] = {"mediaType": m["config"]["mediaType"], "digest": sha(cfg_b), "size": len(cfg_b)}
    mb = json.dumps(m).encode()
    return mb, blobs, served


VARIANTS = {k: variant(k) for k in ("base", "huge", "mismatch", "oversize", "nottar", "dup")}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, errcode, msg, headers=()):
        body = json.dumps({"errors": [{"code": errcode, "message": msg}]}).encode()
        self.send(code, body, headers=headers)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/token":
            want = "Basic " + base64.b64encode(f"{USER}:{PASS}".encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.error(401, "UNAUTHORIZED", "bad credentials")
            return self.send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())
        if path.startswith("/storage/"):
            return self.send(200, BASE_BLOBS[path[len("/storage/"):]], "application/octet-stream")
        if path == "/v2/":
            return self.send(200, b"{}")
        parts = path.split("/")  # "", "v2", kind, "app", "manifests"|"blobs", ref
        if len(parts) != 6 or parts[1] != "v2" or parts[3] != "app":
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        kind, what, ref = parts[2], parts[4], parts[5]
        if kind == "badchallenge":
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              [("WWW-Authenticate", 'Bearer realm="https://127.0.0.1/token,service=x')])
        if kind == "bearer" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            realm = f"https://127.0.0.1:{PORT}/token"
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              [("WWW-Authenticate",
                                f'Bearer realm="{realm}",service="evil",scope="repository:{kind}/app:pull"')])
        manifest, blobs, served = VARIANTS.get(kind, VARIANTS["base"])
        if what == "manifests":
            if ref not in ("v1", sha(manifest)):
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, manifest, MT_MANIFEST, [("Docker-Content-Digest", sha(manifest))])
        if what != "blobs" or ref not in blobs:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        with log_lock, open(LOG, "a") as f:
            f.write(f"{kind} {ref}\n")
        body = served.get(ref, blobs[ref])
        is_config = ref == json.loads(manifest)["config"]["digest"]
        if kind.startswith("redir") and not is_config:
            target = {"redirhttp": f"http://127.0.0.1:{PORT}/storage/{ref}",
                      "redirfile": "file:///etc/passwd",
                      "redirok": f"https://127.0.0.1:{PORT}/storage/{ref}"}[kind]
            return self.send(307, b"", headers=[("Location", target)])
        if kind == "slow" and not is_config:
            with log_lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight[1], in_flight[0])
            time.sleep(0.5)
            with log_lock:
                in_flight[0] -= 1
                with open(LOG, "a") as f:
                    f.write(f"slow max {in_flight[1]}\n")
        last = ref == json.loads(manifest)["layers"][-1]["digest"]
        if (kind == "stall" and not is_config) or (kind == "resume" and last and not os.path.exists(FLAG)):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:100])
            self.wfile.flush()
            time.sleep(600)
            return
        rng = self.headers.get("Range", "")
        if kind == "resume" and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            with log_lock, open(LOG, "a") as f:
                f.write(f"range {ref} from {start}\n")
            return self.send(206, body[start:], "application/octet-stream",
                             [("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")])
        self.send(200, body, "application/octet-stream")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", int(PORT)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

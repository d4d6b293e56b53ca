#!/usr/bin/env python3
"""The token service of docker-registry's `auth: token` mode, for the tests:
GET /token?service=S&scope=repository:NAME:ACTIONS with HTTP basic USER:PASS
answers {"token": JWT}, the JWT signed RS256 (openssl) with KEY and carrying
CERT in x5c, as distribution 2.8 verifies against its rootcertbundle.
Without valid credentials: 401.
usage: token_server.py PORT TLS_CERT TLS_KEY SIGN_CERT SIGN_KEY ISSUER USER PASS
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse

PORT, TLS_CERT, TLS_KEY, SIGN_CERT, SIGN_KEY, ISSUER, USER, PASS = sys.argv[1:9]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    pem = open(SIGN_CERT).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


X5C = base64.b64encode(cert_der()).decode()


def sign(service, scopes):
    now = int(time.time())
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) == 3 and parts[0] == "repository":
            access.append({"type": "repository", "name": parts[1], "actions": parts[2].split(",")})
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": ISSUER, "sub": USER, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
              "jti": b64url(os.urandom(12)), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", SIGN_KEY], input=signing_input.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
        want = "Basic " + base64.b64encode(f"{USER}:{PASS}".encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]})
        q = urllib.parse.parse_qs(url.query)
        token = sign(q.get("service", [""])[0], q.get("scope", []))
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(TLS_CERT, TLS_KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()

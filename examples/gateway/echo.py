#!/usr/bin/env python3
"""The gateway example's upstream: answers every request with the request line and the
headers it received, as text (Python standard library only).

    python3 examples/gateway/echo.py [PORT] [--jwks URL] [--audience AUD]

With PyJWT importable (`pip install pyjwt[crypto]`) and --jwks given, it also verifies
the X-Spid-Jwt header against the gateway's JWKS (signature, audience, expiry) and adds
a line `jwt: valid sub=...` or `jwt: INVALID (...)`. Never print these headers in a real
application's logs: they carry personal data.
"""
import http.server
import json
import sys
import urllib.request

PORT = 8081
JWKS = None
AUDIENCE = None
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--jwks":
        JWKS = args.pop(0)
    elif a == "--audience":
        AUDIENCE = args.pop(0)
    else:
        PORT = int(a)

try:
    import jwt  # PyJWT
except ImportError:  # optional
    jwt = None


def check_jwt(token):
    if jwt is None or JWKS is None:
        return None
    try:
        client = jwt.PyJWKClient(JWKS)
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["ES256", "RS256"],
            audience=AUDIENCE,
            options={"verify_aud": AUDIENCE is not None},
        )
        return "valid sub=%s acr=%s" % (claims.get("sub"), claims.get("acr"))
    except Exception as e:  # noqa: BLE001 - shown to the tester
        return "INVALID (%s)" % type(e).__name__


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        lines = ["%s %s" % (self.command, self.path)]
        lines += ["%s: %s" % (k, v) for k, v in self.headers.items()]
        token = self.headers.get("X-Spid-Jwt")
        if token:
            verdict = check_jwt(token)
            if verdict:
                lines.append("jwt: " + verdict)
        if body:
            lines.append("body-bytes: %d" % len(body))
        out = ("\n".join(lines) + "\n").encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

    def log_message(self, *args):  # quiet: headers carry personal data
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Echo)
    print("echo upstream on http://127.0.0.1:%d/" % PORT, flush=True)
    server.serve_forever()

#!/usr/bin/env python3
"""HTTP client side of tests/gateway.sh (Python standard library; PyJWT for `jwt`).

    gateway_client.py jwt TOKEN_FILE JWKS_URL ISSUER FISCAL_CODE
    gateway_client.py ha NGINX_URL GW_A_URL GW_B_URL
    gateway_client.py traffic NGINX_URL USERS SECS KILL_FILE
    gateway_client.py sentinel GW_URL PHASE STATE_FILE

Each check prints `ok   NAME` or `FAIL NAME: detail`; the last line is
`gateway-client: N passed, M failed`. Logins use the gateway's local test IdP
(citizen RSSMRA80A01H501U): no browser, every form parsed from the real pages.
"""
import html
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse

FISCAL = "RSSMRA80A01H501U"
passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name, flush=True)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, str(detail)[:300]), flush=True)


def finish():
    print("gateway-client: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        out = {}
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                out[name.strip()] = rest.split(";", 1)[0]
        return out


def request(base, method, path, jar=None, body=None, headers=None):
    """One request to `base` (http://host:port) for `path` (or an absolute URL)."""
    if path.startswith("http://"):
        u = urllib.parse.urlsplit(path)
        base = "http://%s" % u.netloc
        path = u.path + ("?" + u.query if u.query else "")
    host = urllib.parse.urlsplit(base).netloc
    conn = http.client.HTTPConnection(host, timeout=10)
    h = dict(headers or {})
    if jar:
        h["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Reply(r.status, r.getheaders(), r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def form(page):
    """(action, {name: value}) of the first form of an HTML page."""
    m = re.search(r'<form[^>]*action="([^"]*)"', page)
    action = html.unescape(m.group(1)) if m else None
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        n = re.search(r'name="([^"]*)"', tag)
        v = re.search(r'value="([^"]*)"', tag)
        if n and v and "radio" not in tag:
            fields[html.unescape(n.group(1))] = html.unescape(v.group(1))
    return action, fields


def echoed(body, name):
    for line in body.split("\n"):
        k, sep, v = line.partition(":")
        if sep and k.lower() == name.lower():
            return v.strip()
    return None


def start_login(start, idp_base, nxt, level=2):
    """GET /spid/login at `start`, the AuthnRequest posted to the test IdP, the IdP's
    login form submitted: (jar, ACS action, ACS fields)."""
    jar = {}
    q = urllib.parse.urlencode({"idp": idp_base + "/test-idp", "next": nxt, "level": level})
    r = request(start, "GET", "/spid/login?" + q)
    if r.status != 200:
        raise RuntimeError("/spid/login: %d %s" % (r.status, r.body[:200]))
    jar.update(r.cookies())
    action, fields = form(r.body)
    r = request(start, "POST", action, body=urllib.parse.urlencode(fields))
    if r.status != 200:
        raise RuntimeError("test IdP sso: %d %s" % (r.status, r.body[:200]))
    action, fields = form(r.body)
    fields.update({"user": "citizen", "level": str(level), "outcome": "login"})
    r = request(start, "POST", action, body=urllib.parse.urlencode(fields))
    if r.status != 200:
        raise RuntimeError("test IdP login: %d %s" % (r.status, r.body[:200]))
    action, fields = form(r.body)
    return jar, action, fields


def finish_login(jar, acs_base, action, fields, complete_base=None):
    """POST the Response to the ACS at `acs_base`, follow /spid/complete at
    `complete_base`: (ACS status, jar with the session, landing path)."""
    path = urllib.parse.urlsplit(action).path
    r = request(acs_base, "POST", path, jar, urllib.parse.urlencode(fields))
    if r.status != 303:
        return r.status, jar, None
    loc = r.header("Location")
    r = request(complete_base or acs_base, "GET", loc, jar)
    jar = dict(jar)
    jar.update(r.cookies())
    return 303, jar, r.header("Location")


def login(start, nxt="/ha"):
    jar, action, fields = start_login(start, start, nxt)
    status, jar, landing = finish_login(jar, start, action, fields)
    if status != 303:
        raise RuntimeError("ACS %d" % status)
    return jar


def cmd_jwt(token_file, jwks_url, issuer, fiscal):
    import jwt  # PyJWT, pinned in the suite's venv

    token = open(token_file).read().strip()
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=issuer,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    check(
        "PyJWT %s verifies the JWT (%s, kid in the JWKS, iss/aud/exp): sub=%s acr=%s"
        % (jwt.__version__, header.get("alg"), claims.get("sub"), claims.get("acr")),
        claims.get("sub") == fiscal and claims.get("acr", "").startswith("https://www.spid.gov.it/SpidL"),
        claims,
    )
    # A tampered token is refused.
    parts = token.split(".")
    payload = json.loads(jwt.utils.base64url_decode(parts[1]))
    payload["sub"] = "FAKEFC00A01H501Z"
    forged = ".".join([parts[0], jwt.utils.base64url_encode(json.dumps(payload).encode()).decode(), parts[2]])
    try:
        jwt.decode(forged, key.key, algorithms=["ES256"], audience=issuer, issuer=issuer)
        check("PyJWT refuses a JWT whose sub was changed", False, "accepted")
    except jwt.InvalidSignatureError:
        check("PyJWT refuses a JWT whose sub was changed", True)
    finish()


def cmd_ha(nginx, a, b):
    # 1. Started on A, the Response posted to B, completed on A; the session works on both.
    jar, action, fields = start_login(a, nginx, "/ha")
    status, jar2, landing = finish_login(jar, b, action, fields, complete_base=a)
    check("HA: a login started on gateway A finishes at gateway B's ACS (303) and lands on /ha",
          status == 303 and landing == "/ha", (status, landing))
    for name, base in (("A", a), ("B", b), ("nginx", nginx)):
        r = request(base, "GET", "/ha", jar2)
        check("HA: the session works on %s" % name,
              r.status == 200 and echoed(r.body, "X-Spid-Fiscal-Code") == FISCAL, (r.status, r.body[:200]))
    # 2. The same Response again, at A and at B: refused.
    for name, base in (("A", a), ("B", b)):
        status, _, _ = finish_login(jar, base, action, fields)
        check("HA: the replayed Response is refused by %s (403)" % name, status == 403, status)
    # 3. Rounds: the same Response posted to A and B at the same instant.
    rounds, accepted, refused, other = 10, 0, 0, 0
    for _ in range(rounds):
        jar, action, fields = start_login(nginx, nginx, "/ha")
        results = []
        barrier = threading.Barrier(2)

        def post(base):
            barrier.wait()
            results.append(finish_login(jar, base, action, fields)[0])

        ts = [threading.Thread(target=post, args=(x,)) for x in (a, b)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        accepted += results.count(303)
        refused += results.count(403)
        other += len([s for s in results if s not in (303, 403)])
    check("HA: %d Responses each posted to A and B at once: accepted once each (%d accepted, %d refused, %d other)"
          % (rounds, accepted, refused, other), accepted == rounds and refused == rounds and other == 0)
    finish()


def cmd_traffic(nginx, users, secs, kill_file):
    """Logs `users` users in through nginx, then requests /ha for each for `secs`
    seconds; the suite kills gateway A meanwhile and writes the kill time to kill_file."""
    jars = [login(nginx) for _ in range(int(users))]
    check("traffic: %s users logged in through nginx (round-robin)" % users, len(jars) == int(users))
    results = []  # (time, user, ok)
    lock = threading.Lock()
    end = time.time() + float(secs)

    def user(i, jar):
        while time.time() < end:
            try:
                r = request(nginx, "GET", "/ha?u=%d" % i, jar)
                ok = r.status == 200 and echoed(r.body, "X-Spid-Fiscal-Code") == FISCAL
                detail = r.status
            except Exception as e:  # noqa: BLE001
                ok, detail = False, type(e).__name__
            with lock:
                results.append((time.time(), i, ok, detail))
            time.sleep(0.02)

    ts = [threading.Thread(target=user, args=(i, j)) for i, j in enumerate(jars)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    try:
        t_kill = float(open(kill_file).read().strip())
    except (OSError, ValueError):
        check("traffic: gateway A was killed during the run", False, "no kill time")
        finish()
    before = [r for r in results if r[0] < t_kill]
    after = [r for r in results if r[0] >= t_kill]
    # A request in flight on A when it died may be cut (nginx already sent the head):
    # a transport error within 1 s of the kill. Anything else is a failure: a status
    # other than 200 (a login page, a 5xx), a missing identity, a later error.
    in_flight = [r for r in after if not r[2] and not isinstance(r[3], int) and r[0] < t_kill + 1]
    bad_after = [r for r in after if not r[2] and r not in in_flight]
    check("traffic: %d requests before the kill of gateway A, all with the identity"
          % len(before), before and all(r[2] for r in before), [r for r in before if not r[2]][:3])
    users_after = {r[1] for r in after if r[2]}
    check("traffic: after gateway A was killed (SIGKILL), every user keeps the session on B: "
          "%d requests, %d cut in flight on A, %d failed, %d/%s users served"
          % (len(after), len(in_flight), len(bad_after), len(users_after), users),
          len(after) > 0 and not bad_after and len(in_flight) <= int(users)
          and len(users_after) == int(users), bad_after[:3])
    finish()


def cmd_sentinel(gw, phase, state_file):
    if phase == "before":
        jar, action, fields = start_login(gw, gw, "/ha")
        status, jar, _ = finish_login(jar, gw, action, fields)
        check("sentinel: login through the gateway on the sentinel URL", status == 303, status)
        json.dump({"jar": jar, "action": action, "fields": fields}, open(state_file, "w"))
    else:
        st = json.load(open(state_file))
        deadline = time.time() + 20
        ok = False
        while time.time() < deadline and not ok:
            try:
                ok = login(gw) is not None
            except Exception:  # noqa: BLE001 - 503 until the new primary has a replica
                time.sleep(0.2)
        check("sentinel: after the primary's SIGKILL and the failover, a new login completes", ok)
        status, _, _ = finish_login({}, gw, st["action"], st["fields"])
        check("sentinel: the Response accepted before the failover is refused after it (403)", status == 403, status)
        r = request(gw, "GET", "/readyz")
        check("sentinel: /readyz is 200 on the new primary", r.status == 200, (r.status, r.body[:200]))
    finish()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        {"jwt": cmd_jwt, "ha": cmd_ha, "traffic": cmd_traffic, "sentinel": cmd_sentinel}[cmd](*args)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        check("%s finished" % cmd, False, "%s: %s" % (type(e).__name__, e))
        finish()

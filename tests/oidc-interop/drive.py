"""The browser of tests/oidc-interop.sh: a login through our RP (the demo SP) at the
reference spid-cie-oidc OP, step by step, each step one `ok`/`FAIL` line.

Usage: python drive.py [MODE] RP_BASE TA_BASE RUN_DIR  (RUN_DIR/user.txt: username, password)
MODE: login (default), no-trust-mark (our RP's Entity Configuration carries no trust
mark: the reference OP must refuse it), wrong-anchor (our RP pins other keys for the
anchor: it must refuse the reference anchor's statements).
"""
import base64
import html
import json
import re
import sqlite3
import sys
import urllib.parse

import requests

MODE = sys.argv[1] if len(sys.argv) == 5 else "login"
RP, TA, RUN = sys.argv[-3:]
OP = TA + "/oidc/op"
FAILED = 0


def check(name, ok, detail=""):
    global FAILED
    if ok:
        print(f"ok   {name}")
    else:
        FAILED += 1
        print(f"FAIL {name}" + (f" ({detail})" if detail else ""))
    sys.stdout.flush()
    return ok


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def hidden_inputs(page):
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = html.unescape(value.group(1) if value else "")
    return fields


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


username, password = open(f"{RUN}/user.txt").read().split()
browser = requests.Session()  # one browser: the RP's cookies and the OP's


def login_start():
    r = browser.get(f"{RP}/spid/oidc/login?next=/me", allow_redirects=False)
    return r.status_code, r.headers.get("location", "")


if MODE == "no-trust-mark":
    status, auth = login_start()
    check("RP (no trust mark) still resolves the OP and redirects to it", status == 303 and auth.startswith(f"{OP}/authorization?"), f"{status}")
    r = browser.get(auth, allow_redirects=False)
    err = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
    check(
        "reference OP refuses our RP without the required trust mark (error=invalid_request, no login form)",
        r.status_code == 302 and "error=invalid_request" in err and "authz_request_object" not in r.text,
        f"HTTP {r.status_code} {err[:120]}",
    )
    r = browser.get(err, allow_redirects=False)
    check("our callback maps it: 403 oidc_op_error", r.status_code == 403 and "oidc_op_error" in r.text, f"HTTP {r.status_code}")
    sys.exit(1 if FAILED else 0)

if MODE == "wrong-anchor":
    r = browser.get(f"{RP}/spid/oidc/login?next=/me", allow_redirects=False)
    check(
        "RP pinning other anchor keys refuses the reference anchor's statements (oidc_trust_chain, no redirect to the OP)",
        r.status_code >= 400 and "oidc_trust_chain" in r.text and "location" not in r.headers,
        f"HTTP {r.status_code}",
    )
    sys.exit(1 if FAILED else 0)

# 1. Our RP resolves the reference OP's trust chain and sends the browser there.
status, auth = login_start()
check(
    "RP resolved the OP's trust chain via the reference anchor and redirected (303) to its authorization endpoint",
    status == 303 and auth.startswith(f"{OP}/authorization?"),
    f"{status} {auth[:80]}",
)
params = query(auth)
head = b64json(params.get("request", "e30.e30.").split(".")[0])
ro = b64json(params.get("request", "e30.e30.").split(".")[1])
check(
    "signed request object: RS256, kid, iss=client_id=RP, aud has the OP, PKCE S256, state, nonce, acr_values",
    head.get("alg") == "RS256"
    and head.get("kid")
    and ro.get("iss") == ro.get("client_id") == RP
    and OP in (ro.get("aud") if isinstance(ro.get("aud"), list) else [ro.get("aud")])
    and ro.get("code_challenge_method") == "S256"
    and len(ro.get("code_challenge", "")) == 43
    and len(ro.get("state", "")) >= 32
    and len(ro.get("nonce", "")) >= 32
    and "https://www.spid.gov.it/SpidL2" in ro.get("acr_values", ""),
    json.dumps(head),
)

# 2. The OP validates our trust chain and the request object, shows its login form.
r = browser.get(auth, allow_redirects=False)
form = hidden_inputs(r.text)
check(
    "reference OP accepted the request object (RP chain + signature) and shows its login form",
    r.status_code == 200 and "authz_request_object" in form,
    f"HTTP {r.status_code} {r.headers.get('location', '')[:120]}",
)

# A wrong password is refused by the OP's form (no code issued).
bad = dict(form, username=username, password=password + "x")
r = browser.post(f"{OP}/authorization", data=bad, allow_redirects=False)
check("OP login form refuses a wrong password", r.status_code == 200 and "code=" not in r.headers.get("location", ""))

# 3. The user logs in at the OP, then consents.
r = browser.post(
    f"{OP}/authorization",
    data=dict(form, username=username, password=password),
    allow_redirects=False,
)
consent_url = urllib.parse.urljoin(OP, r.headers.get("location", ""))
check("OP login with the user's credentials → consent page", r.status_code == 302 and "/consent" in consent_url, f"HTTP {r.status_code}")
r = browser.get(consent_url, allow_redirects=False)
consent = hidden_inputs(r.text)
check("consent page lists the requested claims", r.status_code == 200 and "agree" in consent, f"HTTP {r.status_code}")
r = browser.post(consent_url, data=consent, allow_redirects=False)
callback = r.headers.get("location", "")
cb = query(callback)
check(
    "OP redirects to our callback with code, state and iss",
    r.status_code == 302
    and callback.startswith(f"{RP}/spid/oidc/callback?")
    and cb.get("code")
    and cb.get("state") == ro.get("state")
    and cb.get("iss") == OP,
    callback[:120],
)

# 4. Our callback: token request (private_key_jwt + PKCE), ID token, userinfo (JWE).
r = browser.get(callback, allow_redirects=False)
done = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
check(
    "RP redeemed the code at the reference OP (private_key_jwt, PKCE), verified ID token and encrypted userinfo",
    r.status_code == 303 and done.startswith(f"{RP}/spid/complete?handoff="),
    f"HTTP {r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:200]}",
)
r = browser.get(done, allow_redirects=True)
check("/me shows the fiscal code the reference OP released", "RSSMRA80A01H501U" in r.text, f"HTTP {r.status_code}")
check("/me shows the names from userinfo", "Mario" in r.text and "Rossi" in r.text)

# 5. Replays and forgeries at our callback.
r = browser.get(callback, allow_redirects=False)
check("replayed callback (same code and state) refused: 403 oidc_unknown_state", r.status_code == 403 and "oidc_unknown_state" in r.text, f"HTTP {r.status_code}")
r = browser.get(f"{RP}/spid/oidc/callback?code={cb.get('code')}&state=forged&iss={OP}", allow_redirects=False)
check("callback with a forged state refused: 403 oidc_unknown_state", r.status_code == 403 and "oidc_unknown_state" in r.text, f"HTTP {r.status_code}")

# 6. A tampered request object: the OP refuses it and answers the error to our
# callback, which maps it (oidc_op_error) without a token request.
status, auth2 = login_start()
p2 = query(auth2)
h, pl, sig = p2["request"].split(".")
claims = b64json(pl)
claims["acr_values"] = "https://www.spid.gov.it/SpidL1"
forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
p2["request"] = ".".join((h, forged, sig))
r = browser.get(f"{OP}/authorization?" + urllib.parse.urlencode(p2), allow_redirects=False)
err_cb = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
check(
    "reference OP refuses a request object whose payload was altered (bad signature) with error=invalid_request",
    r.status_code == 302 and "error=invalid_request" in err_cb,
    f"HTTP {r.status_code} {err_cb[:120]}",
)
r = browser.get(err_cb, allow_redirects=False)
check("our callback maps the OP's error answer: 403 oidc_op_error", r.status_code == 403 and "oidc_op_error" in r.text, f"HTTP {r.status_code}")

# 7. Logout: our RP revokes the access token at the reference OP's revocation endpoint.
r = browser.post(f"{RP}/spid/logout", headers={"Origin": RP}, allow_redirects=False)
check("logout at the RP (303)", r.status_code == 303, f"HTTP {r.status_code}")
db = sqlite3.connect(f"{RUN}/db.sqlite3")
revoked = db.execute(
    "select count(*) from spid_cie_oidc_provider_oidcsession where revoked = 1 and client_id = ?",
    (RP,),
).fetchone()[0]
check("the reference OP marked the session revoked (RFC 7009 revocation with private_key_jwt)", revoked == 1, f"revoked sessions: {revoked}")
r = browser.get(f"{RP}/me", allow_redirects=False)
check("/me after logout needs a login", r.status_code != 200, f"HTTP {r.status_code}")

sys.exit(1 if FAILED else 0)

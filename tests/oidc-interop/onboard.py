"""Onboarding for tests/oidc-interop.sh (TEST ONLY, loopback, fresh keys each run).

Creates, in the reference spid-cie-oidc database (settings.py of this directory):
- the trust anchor (BASE): federation key, federation_entity metadata with its fetch
  endpoint, trust_mark_issuers listing itself for the RP and the OP trust marks;
- the OP (BASE/oidc/op, CIE profile): federation key, a core signing key and a core
  encryption key, openid_provider metadata, authority hint to the anchor, and the trust
  mark the anchor issued to it in its Entity Configuration;
- both as descendants of the anchor (the OP and our RP), each with its trust-mark profile;
- a user with a fiscal number (the OP's login form authenticates Django users; the
  claims released are the user's `attributes` under the requested claim names).

Two steps, in the order of a real federation:
  python onboard.py federation BASE OUT_DIR
      the anchor, the OP and the user; writes OUT_DIR/ta-jwks.json (the anchor's public
      federation JWKS, which the RP pins) and OUT_DIR/user.txt (username, password);
  python onboard.py rp BASE RP_ENTITY_ID RP_EC_JWT_FILE OUT_DIR
      our RP, the way a federation portal onboards it: from its published Entity
      Configuration (the JWT fetched from the running demo SP), whose self-signature is
      verified with its own federation keys before they are registered as a descendant;
      writes OUT_DIR/rp-trust-mark.txt (the trust mark id, then the JWT).
"""
import json
import os
import secrets
import sys

import django

django.setup()

from cryptojwt.jwk.jwk import key_from_jwk_dict  # noqa: E402
from cryptojwt.jwk.rsa import new_rsa_key  # noqa: E402
from cryptojwt.jws.jws import factory  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from spid_cie_oidc.authority.models import (  # noqa: E402
    FederationDescendant,
    FederationEntityAssignedProfile,
    FederationEntityProfile,
)
from spid_cie_oidc.entity.jwks import public_jwk_from_private_jwk  # noqa: E402
from spid_cie_oidc.entity.models import FederationEntityConfiguration  # noqa: E402
from spid_cie_oidc.entity.jwtse import unpad_jwt_payload  # noqa: E402

MODE, BASE = sys.argv[1:3]
OP = BASE + "/oidc/op"
RP_TM = BASE + "/openid_relying_party/public"
OP_TM = BASE + "/openid_provider/public"
SIG_ALGS = ["RS256", "PS256", "ES256"]


def private_jwk(use=None):
    key = new_rsa_key(2048)
    jwk = key.to_dict()
    jwk["kid"] = key.thumbprint("SHA-256").decode()
    if use:
        jwk["use"] = use
    return jwk


def public(jwk):
    return public_jwk_from_private_jwk(jwk)


def federation(OUT):
    ta = FederationEntityConfiguration.objects.create(
        sub=BASE,
        entity_type="federation_entity",
        jwks_fed=[private_jwk()],
        jwks_core=[private_jwk("sig")],
        trust_mark_issuers={RP_TM: [BASE], OP_TM: [BASE]},
        metadata={
            "federation_entity": {
                "organization_name": "spid-cie-oidc reference trust anchor (TEST ONLY)",
                "homepage_uri": BASE,
                "contacts": ["ops@example.invalid"],
                "federation_fetch_endpoint": BASE + "/fetch",
                "federation_resolve_endpoint": BASE + "/resolve",
                "federation_list_endpoint": BASE + "/list",
                "federation_trust_mark_status_endpoint": BASE + "/trust_mark_status",
            }
        },
        is_active=True,
    )

    op_sig, op_enc = private_jwk("sig"), private_jwk("enc")
    op = FederationEntityConfiguration.objects.create(
        sub=OP,
        entity_type="openid_provider",
        authority_hints=[BASE],
        jwks_fed=[private_jwk()],
        jwks_core=[op_sig, op_enc],
        metadata={
            "openid_provider": {
                "issuer": OP,
                "authorization_endpoint": OP + "/authorization",
                "token_endpoint": OP + "/token",
                "userinfo_endpoint": OP + "/userinfo",
                "introspection_endpoint": OP + "/introspection",
                "revocation_endpoint": OP + "/revocation",
                "jwks": {"keys": [public(op_sig), public(op_enc)]},
                "scopes_supported": ["openid", "offline_access", "profile", "email"],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query", "form_post"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "acr_values_supported": [
                    "https://www.spid.gov.it/SpidL1",
                    "https://www.spid.gov.it/SpidL2",
                    "https://www.spid.gov.it/SpidL3",
                ],
                "subject_types_supported": ["pairwise", "public"],
                "id_token_signing_alg_values_supported": SIG_ALGS,
                "id_token_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256"],
                "id_token_encryption_enc_values_supported": ["A128CBC-HS256", "A256CBC-HS512"],
                "userinfo_signing_alg_values_supported": SIG_ALGS,
                "userinfo_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256"],
                "userinfo_encryption_enc_values_supported": ["A128CBC-HS256", "A256CBC-HS512"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": SIG_ALGS,
                "request_object_signing_alg_values_supported": SIG_ALGS,
                "claims_parameter_supported": True,
                "request_parameter_supported": True,
                "code_challenge_methods_supported": ["S256"],
                "client_registration_types_supported": ["automatic"],
                "request_authentication_methods_supported": {
                    "authorization_endpoint": ["request_object"]
                },
            },
            "federation_entity": {
                "organization_name": "spid-cie-oidc reference OP (TEST ONLY)",
                "homepage_uri": OP,
                "contacts": ["ops@example.invalid"],
            },
        },
        is_active=True,
    )

    rp_profile = FederationEntityProfile.objects.create(
        name="RP public",
        profile_category="openid_relying_party",
        profile_id=RP_TM,
        trust_mark_template={"organization_type": "public"},
    )
    op_profile = FederationEntityProfile.objects.create(
        name="OP public",
        profile_category="openid_provider",
        profile_id=OP_TM,
        trust_mark_template={"organization_type": "public"},
    )
    op_desc = FederationDescendant.objects.create(
        name="reference OP",
        sub=OP,
        type="openid_provider",
        jwks=op.public_jwks,
        is_active=True,
    )
    op_mark = FederationEntityAssignedProfile.objects.create(
        descendant=op_desc, profile=op_profile, issuer=ta
    )
    op.trust_marks = [op_mark.trust_mark]
    op.save()

    password = secrets.token_urlsafe(18)
    get_user_model().objects.create_user(
        username="mario.rossi",
        password=password,
        email="mario.rossi@example.invalid",
        attributes={
            "given_name": "Mario",
            "family_name": "Rossi",
            "birthdate": "1980-01-01",
            "email": "mario.rossi@example.invalid",
            "https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U",
            "fiscal_number": "TINIT-RSSMRA80A01H501U",
        },
    )

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "ta-jwks.json"), "w") as f:
        json.dump({"keys": ta.public_jwks}, f)
    with open(os.path.join(OUT, "user.txt"), "w") as f:
        f.write("mario.rossi\n" + password + "\n")
    print("onboarded: anchor", BASE, "OP", OP)


def relying_party(RP, RP_EC_FILE, OUT):
    # The RP's Entity Configuration, verified with the keys it carries (a self-signature:
    # proof of possession of the federation key the portal registers).
    rp_ec = open(RP_EC_FILE).read().strip()
    rp_payload = unpad_jwt_payload(rp_ec)
    assert rp_payload["iss"] == rp_payload["sub"] == RP, "RP entity configuration iss/sub"
    rp_fed_keys = rp_payload["jwks"]["keys"]
    verifier = factory(rp_ec)
    verifier.verify_compact(rp_ec, [key_from_jwk_dict(k) for k in rp_fed_keys])
    ta = FederationEntityConfiguration.objects.get(sub=BASE)
    rp_profile = FederationEntityProfile.objects.get(profile_id=RP_TM)
    rp_desc = FederationDescendant.objects.create(
        name="spid-sp demo RP",
        sub=RP,
        type="openid_relying_party",
        jwks=rp_fed_keys,
        is_active=True,
    )
    rp_mark = FederationEntityAssignedProfile.objects.create(
        descendant=rp_desc, profile=rp_profile, issuer=ta
    )
    with open(os.path.join(OUT, "rp-trust-mark.txt"), "w") as f:
        f.write(RP_TM + "\n" + rp_mark.trust_mark_as_jws + "\n")
    print("onboarded: RP", RP)


if MODE == "federation":
    federation(sys.argv[3])
elif MODE == "rp":
    relying_party(*sys.argv[3:6])
else:
    sys.exit("usage: onboard.py federation BASE OUT | rp BASE RP EC_FILE OUT")

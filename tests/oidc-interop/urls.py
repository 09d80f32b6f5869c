"""URLs of the tests/oidc-interop Django project: the trust anchor's federation API at
the root, the OP under /oidc/op (its Entity Configuration included)."""
import datetime
import os
import types

from django.urls import path
from django.utils import timezone

import spid_cie_oidc.entity.utils as entity_utils

from spid_cie_oidc.authority.urls import urlpatterns as authority_urls
from spid_cie_oidc.entity.urls import urlpatterns as entity_urls
from spid_cie_oidc.entity.views import entity_configuration
from spid_cie_oidc.provider.urls import urlpatterns as provider_urls

urlpatterns = []
urlpatterns.extend(entity_urls)
urlpatterns.extend(authority_urls)
urlpatterns.extend(provider_urls)
urlpatterns.append(
    path(
        "oidc/op/.well-known/openid-federation",
        entity_configuration,
        name="op_entity_configuration",
    )
)

# OIDC_INTEROP_CLOCK_OFFSET (seconds, TEST ONLY): the federation's clock for the `iat`
# and `exp` of every statement it issues (the reference computes both in
# spid_cie_oidc.entity.utils, iat_now and exp_from_now, from these two module globals).
# tests/oidc-interop.sh sets it 3 days back to issue an expired trust chain.
OFFSET = datetime.timedelta(seconds=int(os.environ.get("OIDC_INTEROP_CLOCK_OFFSET", "0")))
if OFFSET:

    class _ShiftedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.now(tz) + OFFSET

    entity_utils.datetime = types.SimpleNamespace(
        datetime=_ShiftedDatetime, timedelta=datetime.timedelta
    )
    entity_utils.timezone = types.SimpleNamespace(
        localtime=lambda value=None, tz=None: timezone.localtime(value, tz)
        + (OFFSET if value is None else datetime.timedelta(0))
    )

"""URLs of the tests/oidc-interop Django project: the trust anchor's federation API at
the root, the OP under /oidc/op (its Entity Configuration included)."""
from django.urls import path

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

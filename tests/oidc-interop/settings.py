"""Minimal Django project for tests/oidc-interop.sh: Italy's reference spid-cie-oidc
(PyPI, 1.6.3) as a trust anchor at the root and an OpenID Provider (CIE profile) under
/oidc/op, on loopback, TEST ONLY. Written for this suite (the wheel ships no project).

Environment: OIDC_INTEROP_DIR (database, keys), OIDC_INTEROP_BASE (http://127.0.0.1:PORT).
"""
import os

import aiohttp

WORK = os.environ["OIDC_INTEROP_DIR"]
BASE = os.environ["OIDC_INTEROP_BASE"]
HERE = os.path.dirname(os.path.abspath(__file__))

SECRET_KEY = os.environ.get("OIDC_INTEROP_SECRET", "test-only-" + BASE)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
AUTH_USER_MODEL = "spid_cie_oidc_accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(WORK, "static")

INSTALLED_APPS = [
    "spid_cie_oidc.accounts",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "spid_cie_oidc.entity",
    "spid_cie_oidc.authority",
    "spid_cie_oidc.provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # templates/bootstrap-italia-base.html stands in for the design-django-theme
        # package the provider's templates extend (not a dependency of the wheel).
        "DIRS": [os.path.join(HERE, "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(WORK, "db.sqlite3"),
    }
}

# The federation: this project's root is the trust anchor.
OIDCFED_DEFAULT_TRUST_ANCHOR = BASE
OIDCFED_TRUST_ANCHORS = [BASE]
OIDCFED_PROVIDER_PROFILE = "cie"
# The OP accepts a relying party only with the trust mark the anchor issued to it.
OIDCFED_REQUIRED_TRUST_MARKS = [BASE + "/openid_relying_party/public"]
HTTPC_PARAMS = {
    "connection": {"ssl": False},
    "session": {"timeout": aiohttp.ClientTimeout(total=6)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
    "loggers": {
        "spid_cie_oidc": {"handlers": ["console"], "level": "DEBUG", "propagate": False},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

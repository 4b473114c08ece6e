"""Connection settings: the contract's connection fields, parsed and validated once.

Both the synchronous hook and the async trigger build a :class:`CopernicaSettings` from an
Airflow connection, so the rules for defaults and bad values live in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_copernica.exceptions import CopernicaConfigError

DEFAULT_CONN_ID = "copernica_default"
DEFAULT_HOST = "https://api.copernica.com"
DEFAULT_AUTH_URL = "https://authenticate.copernica.com"
DEFAULT_AUTHORIZE_URL = "https://www.copernica.com/en/authorize"
DEFAULT_API_VERSION = "v4"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
# Retries of one request stop after this many seconds (long enough for a minutes-long 503/504
# storm); ``max_retries``, when a connection sets it, caps the count as well.
DEFAULT_MAX_RETRY_DURATION = 600.0
MAX_RETRY_DURATION = 86400.0
DEFAULT_TIMEOUT = 60.0
# A Retry-After longer than this is not slept through: the request fails clearly instead.
DEFAULT_MAX_RETRY_WAIT = 300.0
# Exponential backoff between retries: base * 2**n seconds plus jitter, capped at the max.
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_MAX = 30.0

PRODUCTS = ("draganddrop", "html")
LEGACY_PRODUCT_PATHS = {"draganddrop": "ms", "html": "publisher"}


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise CopernicaConfigError(f"extra.{name} must be true or false, got {value!r}")


def _as_number(name: str, value: Any, kind: type, low: float, high: float | None = None) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise CopernicaConfigError(f"extra.{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise CopernicaConfigError(f"extra.{name} must be in {bounds}, got {value!r}")
    return number


def _as_url(name: str, value: Any) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CopernicaConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return text


@dataclass(frozen=True)
class CopernicaSettings:
    """Validated connection settings (see the connection table in the README)."""

    access_token: str = field(repr=False)
    host: str = DEFAULT_HOST
    auth_url: str = DEFAULT_AUTH_URL
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    api_version: str = DEFAULT_API_VERSION
    timezone: str = DEFAULT_TIMEZONE
    page_size: int = DEFAULT_PAGE_SIZE
    max_retries: int | None = None
    max_retry_duration: float = DEFAULT_MAX_RETRY_DURATION
    timeout: float = DEFAULT_TIMEOUT
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX
    legacy_paths: bool = False
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None

    @property
    def api_base(self) -> str:
        """``https://api.copernica.com/v4``: the prefix of every data request."""
        return f"{self.host}/{self.api_version}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def product_path(self, product: str) -> str:
        """URL segment for a product: ``draganddrop``/``html``, or ``ms``/``publisher``."""
        if product not in PRODUCTS:
            raise CopernicaConfigError(
                f"Unknown product {product!r}; valid products: {', '.join(PRODUCTS)}"
            )
        return LEGACY_PRODUCT_PATHS[product] if self.legacy_paths else product

    def secrets(self) -> list[str]:
        """Values that must never be logged (registered with Airflow's secret masker)."""
        return [s for s in (self.access_token, self.client_secret) if s]

    @classmethod
    def from_fields(
        cls,
        *,
        host: str | None,
        password: str | None,
        extra: Mapping[str, Any] | str | None,
        require_token: bool = True,
    ) -> CopernicaSettings:
        """Build settings from an Airflow connection's host, password and extra."""
        if isinstance(extra, str):
            try:
                extra = json.loads(extra) if extra.strip() else {}
            except ValueError:
                raise CopernicaConfigError("the connection's extra is not valid JSON") from None
        extra = dict(extra or {})
        if not password and require_token:
            raise CopernicaConfigError(
                "The Copernica connection has no API access token: put it in the password "
                "field (dashboard token, or run `copernica authorize`)."
            )
        timezone = str(extra.get("timezone") or DEFAULT_TIMEZONE)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CopernicaConfigError(
                f"extra.timezone {timezone!r} is not an IANA time zone (e.g. Europe/Amsterdam)"
            ) from None
        api_version = str(extra.get("api_version") or DEFAULT_API_VERSION).strip("/")
        if not api_version.isalnum():
            raise CopernicaConfigError(f"extra.api_version must look like v4, got {api_version!r}")
        host = host or DEFAULT_HOST
        if "://" not in host:
            host = f"https://{host}"
        return cls(
            access_token=password or "",
            host=_as_url("host", host),
            auth_url=_as_url("extra.auth_url", extra.get("auth_url") or DEFAULT_AUTH_URL),
            authorize_url=_as_url(
                "extra.authorize_url", extra.get("authorize_url") or DEFAULT_AUTHORIZE_URL
            ),
            api_version=api_version,
            timezone=timezone,
            page_size=_as_number(
                "page_size", extra.get("page_size", DEFAULT_PAGE_SIZE), int, 1, MAX_PAGE_SIZE
            ),
            max_retries=None
            if extra.get("max_retries") in (None, "")
            else _as_number("max_retries", extra["max_retries"], int, 0, 100),
            max_retry_duration=_as_number(
                "max_retry_duration",
                extra.get("max_retry_duration", DEFAULT_MAX_RETRY_DURATION),
                float,
                0,
                MAX_RETRY_DURATION,
            ),
            timeout=_as_number("timeout", extra.get("timeout", DEFAULT_TIMEOUT), float, 0.1),
            max_retry_wait=_as_number(
                "max_retry_wait",
                extra.get("max_retry_wait", DEFAULT_MAX_RETRY_WAIT),
                float,
                0,
            ),
            backoff_base=_as_number(
                "backoff_base", extra.get("backoff_base", DEFAULT_BACKOFF_BASE), float, 0, 60
            ),
            backoff_max=_as_number(
                "backoff_max", extra.get("backoff_max", DEFAULT_BACKOFF_MAX), float, 0, 3600
            ),
            legacy_paths=_as_bool("legacy_paths", extra.get("legacy_paths", False)),
            client_id=extra.get("client_id") or None,
            client_secret=extra.get("client_secret") or None,
            redirect_uri=extra.get("redirect_uri") or None,
        )


@dataclass(frozen=True)
class ExtraField:
    """One connection extra as shown in the Airflow connection form."""

    name: str
    label: str
    type: str  # JSON-schema type: string, integer, number, boolean
    default: Any = None
    description: str = ""
    sensitive: bool = False


# The extras of the connection form, in display order. Both the declarative provider info
# (``conn-fields``) and the hook's ``get_connection_form_widgets`` are built from this.
EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "auth_url",
        "JWT exchange URL",
        "string",
        DEFAULT_AUTH_URL,
        "Endpoint that exchanges the access token for a JWT (POST access_token).",
    ),
    ExtraField("api_version", "API version", "string", DEFAULT_API_VERSION),
    ExtraField(
        "timezone",
        "Account time zone",
        "string",
        DEFAULT_TIMEZONE,
        "IANA zone of Copernica's naive timestamps.",
    ),
    ExtraField(
        "page_size",
        "Page size",
        "integer",
        DEFAULT_PAGE_SIZE,
        f"Records per request, 1..{MAX_PAGE_SIZE}.",
    ),
    ExtraField(
        "max_retry_duration",
        "Retry budget (s)",
        "number",
        DEFAULT_MAX_RETRY_DURATION,
        "Seconds a request may keep retrying 429/5xx/connection errors.",
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "integer",
        None,
        "Optional cap on the retries of one request (within the retry budget).",
    ),
    ExtraField("timeout", "Request timeout (s)", "number", DEFAULT_TIMEOUT),
    ExtraField(
        "max_retry_wait",
        "Longest Retry-After to wait (s)",
        "number",
        DEFAULT_MAX_RETRY_WAIT,
        "A longer Retry-After fails the request at once.",
    ),
    ExtraField("backoff_base", "Backoff base (s)", "number", DEFAULT_BACKOFF_BASE),
    ExtraField("backoff_max", "Backoff cap (s)", "number", DEFAULT_BACKOFF_MAX),
    ExtraField(
        "legacy_paths",
        "Legacy product paths",
        "boolean",
        False,
        "Use ms/ and publisher/ instead of draganddrop/ and html/.",
    ),
    ExtraField(
        "client_id",
        "OAuth client id",
        "string",
        None,
        "Registered app's client key; used only by `copernica authorize`.",
    ),
    ExtraField(
        "client_secret",
        "OAuth client secret",
        "string",
        None,
        "Used only by `copernica authorize`.",
        sensitive=True,
    ),
    ExtraField(
        "redirect_uri",
        "OAuth redirect URI",
        "string",
        None,
        "Default: http://127.0.0.1:8765/callback.",
    ),
    ExtraField("authorize_url", "OAuth authorize URL", "string", DEFAULT_AUTHORIZE_URL),
)

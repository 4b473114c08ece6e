"""Connection settings: the contract's connection fields, parsed and validated once.

``EXTRA_FIELDS`` is the one list of connection extras: each :class:`ExtraField` carries its
label, default, bounds and parser. :meth:`CopernicaSettings.from_fields` (hook and trigger),
the connection form (``get_provider_info``'s ``conn-fields``) and the connection table of
docs/connection.md (:func:`connection_table`, written there by ``make docs-tables``) are all
built from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_copernica.booleans import parse_bool

DEFAULT_CONN_ID = "copernica_default"
DEFAULT_HOST = "https://api.copernica.com"
DEFAULT_AUTH_URL = "https://authenticate.copernica.com"
DEFAULT_AUTHORIZE_URL = "https://www.copernica.com/en/authorize"
DEFAULT_API_VERSION = "v4"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
# Requests in flight per task (docs/scaling.md, "Concurrency within a task": why 1).
DEFAULT_MAX_CONCURRENCY = 1
MAX_CONCURRENCY = 16
DEFAULT_TIMEOUT = 60.0
# A Retry-After longer than this is not slept through: the request fails clearly instead.
DEFAULT_MAX_RETRY_WAIT = 300.0
# Retries of one request stop after this many seconds (long enough for a minutes-long 503/504
# storm); ``max_retries``, when a connection sets it, caps the count as well.
DEFAULT_MAX_RETRY_DURATION = 600.0
MAX_RETRY_DURATION = 86400.0
# Exponential backoff between retries: base * 2**n seconds plus jitter, capped at the max.
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_MAX = 30.0

PRODUCTS = ("draganddrop", "html")
LEGACY_PRODUCT_PATHS = {"draganddrop": "ms", "html": "publisher"}


def _invalid(message: str) -> Exception:
    """A ``CopernicaConfigError``. Imported late: exceptions.py imports Airflow, whose start-up
    calls ``get_provider_info``, which reads ``EXTRA_FIELDS`` from this module."""
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    return CopernicaConfigError(message)


@dataclass(frozen=True)
class CopernicaSettings:
    """Validated connection settings (see the connection table in docs/connection.md)."""

    access_token: str = field(repr=False)
    host: str = DEFAULT_HOST
    auth_url: str = DEFAULT_AUTH_URL
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    api_version: str = DEFAULT_API_VERSION
    timezone: str = DEFAULT_TIMEZONE
    page_size: int = DEFAULT_PAGE_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_retries: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    max_retry_duration: float = DEFAULT_MAX_RETRY_DURATION
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
            raise _invalid(f"Unknown product {product!r}; valid products: {', '.join(PRODUCTS)}")
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
        """Build settings from an Airflow connection's host, password and extra.

        An extra that is missing, null or empty takes its default (see ``EXTRA_FIELDS``).
        """
        if isinstance(extra, str):
            try:
                extra = json.loads(extra) if extra.strip() else {}
            except ValueError:
                raise _invalid("the connection's extra is not valid JSON") from None
        if extra is not None and not isinstance(extra, Mapping):
            raise _invalid("the connection's extra must be a JSON object")
        extra = dict(extra or {})
        if not password and require_token:
            raise _invalid(
                "The Copernica connection has no API access token: put it in the password "
                "field (dashboard token, or run `copernica authorize`)."
            )
        host = host or DEFAULT_HOST
        if "://" not in host:
            host = f"https://{host}"
        return cls(
            access_token=password or "",
            host=_url("host", host),
            **{f.name: f.read(extra) for f in EXTRA_FIELDS},
        )


# -- parsers: (field name, value) -> parsed value, raising CopernicaConfigError ----------------
def _url(name: str, value: Any) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid(f"{name} must be an http(s) URL, got {value!r}")
    return text


def _timezone(name: str, value: Any) -> str:
    zone = str(value).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            f"{name} {zone!r} is not an IANA time zone (e.g. Europe/Amsterdam)"
        ) from None
    return zone


def _api_version(name: str, value: Any) -> str:
    version = str(value).strip().strip("/")
    if not version.isalnum():
        raise _invalid(f"{name} must look like v4, got {version!r}")
    return version


def _boolean(name: str, value: Any) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise _invalid(f"{name} must be true or false, got {value!r}")
    return parsed


FieldType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class ExtraField:
    """One connection extra: its form label, default, bounds and parser.

    A value that is present (not missing, null or empty) is read by its type (numbers are
    checked against ``minimum``/``maximum``), then by ``parse`` when the field has one.
    """

    name: str
    label: str
    type: FieldType
    default: Any = None
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    sensitive: bool = False
    parse: Callable[[str, Any], Any] | None = None

    @property
    def bounds(self) -> str:
        """``1..1000``, ``>= 0`` or empty: the valid range in words."""

        def show(number: float) -> str:
            return f"{number:g}"

        if self.minimum is not None and self.maximum is not None:
            return f"{show(self.minimum)}..{show(self.maximum)}"
        if self.minimum is not None:
            return f">= {show(self.minimum)}"
        return f"<= {show(self.maximum)}" if self.maximum is not None else ""

    def read(self, extra: Mapping[str, Any]) -> Any:
        """This field's setting from a connection's extra (the default when it is unset)."""
        value = extra.get(self.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.default
        name = f"extra.{self.name}"
        if self.type in ("integer", "number"):
            value = self._number(value)
        elif self.type == "boolean":
            value = _boolean(name, value)
        else:
            value = str(value).strip()
        return self.parse(name, value) if self.parse else value

    def _number(self, value: Any) -> int | float:
        kind = int if self.type == "integer" else float
        try:
            if isinstance(value, bool):
                raise TypeError
            number = kind(value)
        except (TypeError, ValueError):
            raise _invalid(f"extra.{self.name} must be a number, got {value!r}") from None
        low = self.minimum if self.minimum is not None else float("-inf")
        high = self.maximum if self.maximum is not None else float("inf")
        if not low <= number <= high:
            raise _invalid(f"extra.{self.name} must be in {self.bounds}, got {value!r}")
        return number

    def json_schema(self) -> dict[str, Any]:
        """The form's JSON schema for this field. No default: the form stores only typed values."""
        schema: dict[str, Any] = {"type": [self.type, "null"]}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.sensitive:
            schema["format"] = "password"
        return schema

    def help_text(self) -> str:
        """The description shown under the field: what it does, its range and its default."""
        text = self.description.rstrip(".")
        parts = [f"{text[:1].upper()}{text[1:]}." if text else ""]
        if self.bounds:
            parts.append(f"Range {self.bounds}.")
        if self.default is not None:
            parts.append(f"Default: {_show(self.default)}.")
        return " ".join(p for p in parts if p)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# The extras of the connection form, in display order.
EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "auth_url",
        "JWT exchange URL",
        "string",
        DEFAULT_AUTH_URL,
        "exchanges the access token for a JWT (POST, form field access_token)",
        parse=_url,
    ),
    ExtraField(
        "api_version",
        "API version",
        "string",
        DEFAULT_API_VERSION,
        "REST version path segment",
        parse=_api_version,
    ),
    ExtraField(
        "timezone",
        "Account time zone",
        "string",
        DEFAULT_TIMEZONE,
        "IANA zone of Copernica's naive timestamps",
        parse=_timezone,
    ),
    ExtraField(
        "page_size",
        "Page size",
        "integer",
        DEFAULT_PAGE_SIZE,
        "records per request",
        minimum=1,
        maximum=MAX_PAGE_SIZE,
    ),
    ExtraField(
        "max_concurrency",
        "Max concurrency",
        "integer",
        DEFAULT_MAX_CONCURRENCY,
        "requests in flight per task (pages at known offsets, id-range partitions); halved on "
        "429/503/504, raised again by one after a window of successes",
        minimum=1,
        maximum=MAX_CONCURRENCY,
    ),
    ExtraField(
        "max_retry_duration",
        "Retry budget (s)",
        "number",
        DEFAULT_MAX_RETRY_DURATION,
        "seconds one request may keep retrying 429/502/503/504, connection errors, timeouts, "
        "cut-off replies",
        minimum=0,
        maximum=MAX_RETRY_DURATION,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "integer",
        None,
        "optional cap on the retries of one request, within `max_retry_duration`",
        minimum=0,
        maximum=100,
    ),
    ExtraField(
        "timeout",
        "Request timeout (s)",
        "number",
        DEFAULT_TIMEOUT,
        "seconds per request",
        minimum=0.1,
    ),
    ExtraField(
        "max_retry_wait",
        "Longest Retry-After to wait (s)",
        "number",
        DEFAULT_MAX_RETRY_WAIT,
        "the longest Retry-After worth waiting for, in seconds; a longer one fails at once",
        minimum=0,
    ),
    ExtraField(
        "backoff_base",
        "Backoff base (s)",
        "number",
        DEFAULT_BACKOFF_BASE,
        "exponential backoff: backoff_base * 2^n s plus up to backoff_base s of jitter",
        minimum=0,
        maximum=60,
    ),
    ExtraField(
        "backoff_max",
        "Backoff cap (s)",
        "number",
        DEFAULT_BACKOFF_MAX,
        "the longest backoff between two retries, in seconds",
        minimum=0,
        maximum=3600,
    ),
    ExtraField(
        "legacy_paths",
        "Legacy product paths",
        "boolean",
        False,
        "use ms/ and publisher/ instead of draganddrop/ and html/",
    ),
    ExtraField(
        "client_id",
        "OAuth client id",
        "string",
        None,
        "registered app's client key; used by `copernica authorize` and the UI's Authorize",
    ),
    ExtraField(
        "client_secret",
        "OAuth client secret",
        "string",
        None,
        "registered app's secret; used by `copernica authorize` and the UI's Authorize",
        sensitive=True,
    ),
    ExtraField(
        "redirect_uri",
        "OAuth redirect URI",
        "string",
        None,
        "where `copernica authorize` receives the answer (the UI's Authorize always uses the API server's callback); unset: http://127.0.0.1:8765/callback",
    ),
    ExtraField(
        "authorize_url",
        "OAuth authorize URL",
        "string",
        DEFAULT_AUTHORIZE_URL,
        "Copernica's consent page, used by `copernica authorize` and the UI's Authorize",
        parse=_url,
    ),
)


def connection_table() -> str:
    """The connection table of docs/connection.md (Markdown), generated from ``EXTRA_FIELDS``."""
    rows = [
        "| field | meaning | default |",
        "|---|---|---|",
        '| Host ("REST API base URL") | Copernica REST base URL, without the version '
        f"| `{DEFAULT_HOST}` |",
        '| Password ("API access token") | the Copernica API access token (required) | |',
    ]
    for f in EXTRA_FIELDS:
        meaning = f.description + (f" ({f.bounds})" if f.bounds else "")
        default = "none" if f.default is None else f"`{_show(f.default)}`"
        rows.append(f"| `{f.name}` | {meaning} | {default} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m airflow_provider_copernica.client.settings: print the table
    print(connection_table())

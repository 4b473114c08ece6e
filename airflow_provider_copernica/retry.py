"""What is worth retrying, and how long to wait: shared by the sync and the async hook.

A hook turns one failed attempt into :class:`TransientError` (retryable: 429/502/503/504,
connection errors, timeouts, cut-off or invalid JSON bodies) or into a final
``CopernicaError``. :func:`retrying` / :func:`async_retrying` then drive the attempts with
tenacity: exponential backoff with jitter, ``Retry-After`` honoured, bounded by
``max_retries``, ending in :class:`~airflow_provider_copernica.exceptions.CopernicaRetryError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from airflow_provider_copernica.config import CopernicaSettings
from airflow_provider_copernica.exceptions import CopernicaRetryError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class TransientError(Exception):
    """One attempt failed in a way a later attempt may not (never carries a secret)."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay seconds (maybe fractional) or an
    HTTP date. ``None`` when absent or unreadable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def check_status(
    status: int, headers: Mapping[str, str], *, what: str, settings: CopernicaSettings
) -> None:
    """Raise :class:`TransientError` for a retryable status, or ``CopernicaRetryError`` at once
    when Copernica asks for a wait longer than ``settings.max_retry_wait``."""
    if status not in RETRYABLE_STATUSES:
        return
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is not None and retry_after > settings.max_retry_wait:
        error = CopernicaRetryError(
            f"{what}: Copernica answered HTTP {status} with Retry-After {retry_after:.0f} s, "
            f"longer than extra.max_retry_wait ({settings.max_retry_wait:g} s); not waiting. "
            "Run again later, or raise max_retry_wait in the connection's extra."
        )
        error.status = status  # type: ignore[attr-defined]
        error.attempts = None  # type: ignore[attr-defined]
        raise error
    raise TransientError(f"HTTP {status}", status=status, retry_after=retry_after)


class wait_retry_after(wait_base):
    """Wait what ``Retry-After`` said when there was one, else the fallback backoff."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        return self.fallback(retry_state)


def backoff(settings: CopernicaSettings) -> wait_base:
    """``Retry-After`` if given, else ``backoff_base * 2**n`` (capped) plus up to
    ``backoff_base`` of jitter."""
    exponential = wait_exponential(multiplier=settings.backoff_base, max=settings.backoff_max)
    return wait_retry_after(exponential + wait_random(0, settings.backoff_base))


def _retry_options(settings: CopernicaSettings, what: str) -> dict[str, Any]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "%s: %s; retry %d/%d in %.1f s",
            what,
            getattr(error, "reason", type(error).__name__),
            state.attempt_number,
            settings.max_retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    def give_up(state: RetryCallState) -> Any:
        error = state.outcome.exception() if state.outcome is not None else None
        reason = getattr(error, "reason", type(error).__name__)
        final = CopernicaRetryError(
            f"{what} failed after {state.attempt_number} attempt(s), last: {reason}; "
            f"the retry budget (extra.max_retries={settings.max_retries}) is spent."
        )
        final.status = getattr(error, "status", None)  # type: ignore[attr-defined]
        final.attempts = state.attempt_number  # type: ignore[attr-defined]
        raise final from None

    return {
        "retry": retry_if_exception_type(TransientError),
        "stop": stop_after_attempt(settings.max_retries + 1),
        "wait": backoff(settings),
        "before_sleep": before_sleep,
        "retry_error_callback": give_up,
    }


def retrying(settings: CopernicaSettings, what: str) -> Retrying:
    """A tenacity ``Retrying`` for one request; ``what`` (e.g. ``GET /v4/identity``) names it
    in logs and errors, so it must not hold query values or secrets."""
    return Retrying(**_retry_options(settings, what))


def async_retrying(settings: CopernicaSettings, what: str) -> AsyncRetrying:
    """The :func:`retrying` rules for coroutines."""
    return AsyncRetrying(**_retry_options(settings, what))

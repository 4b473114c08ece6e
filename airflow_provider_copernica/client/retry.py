"""What is worth retrying, and how long to wait: shared by the sync and the async hook.

A hook turns one failed attempt into :class:`TransientError` (retryable: 429/502/503/504,
connection errors, timeouts, cut-off or invalid JSON bodies) or into a final
``CopernicaError``. :func:`retrying` / :func:`async_retrying` then drive the attempts with
tenacity: exponential backoff with jitter, ``Retry-After`` honoured, for at most
``max_retry_duration`` seconds per request (and at most ``max_retries`` retries when the
connection sets that too), ending in
:class:`~airflow_provider_copernica.exceptions.CopernicaRetryError`.

Copernica's load balancer answers storms with 503/504 HTML pages for minutes, without
``Retry-After``: a budget in time rides them out where a few quick retries would not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.exceptions import CopernicaRetryError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Copernica answers an invalid or expired token with HTTP 400 and this message, not 401.
INVALID_TOKEN_MESSAGE = "invalid access token"

# The clock and the sleeps of the retry budget; module attributes so that tests can swap in
# a fake clock (pytest-mock) while the HTTP stays real.
clock = time.monotonic
pause = time.sleep
apause = asyncio.sleep


class TransientError(Exception):
    """One attempt failed in a way a later attempt may not (never carries a secret)."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def is_token_rejection(status: int, content: bytes) -> bool:
    """True when a reply refuses the JWT: 401/403, or Copernica's
    ``400 {"error":{"message":"Invalid access token"}}``."""
    if status in (401, 403):
        return True
    if status != 400:
        return False
    try:
        error = orjson.loads(content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    message = error.get("message") if isinstance(error, dict) else error
    return isinstance(message, str) and message.strip().lower() == INVALID_TOKEN_MESSAGE


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
        raise CopernicaRetryError(
            f"{what}: Copernica answered HTTP {status} with Retry-After {retry_after:.0f} s, "
            f"longer than extra.max_retry_wait ({settings.max_retry_wait:g} s); not waiting. "
            "Run again later, or raise max_retry_wait in the connection's extra.",
            status=status,
        )
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


def duration(seconds: float) -> str:
    """``2 min 10 s``, ``40 s``, ``10 min``, ``1 h 5 min``: a wait or a budget for the log."""
    whole = round(seconds)
    if seconds < 10 and whole != seconds:
        return f"{seconds:.1f} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def _reason(error: BaseException | None) -> str:
    return getattr(error, "reason", type(error).__name__)


class RetryBudget:
    """The retry budget of one request: ``max_retry_duration`` seconds from its first attempt,
    and at most ``max_retries`` retries when that is set; whichever ends first.

    The last wait is shortened to end at the deadline, so the final attempt is made then.
    """

    def __init__(self, settings: CopernicaSettings, what: str) -> None:
        self.what = what
        self.seconds = settings.max_retry_duration
        self.max_retries = settings.max_retries
        self.backoff = backoff(settings)
        self.started = clock()

    def used(self) -> float:
        return clock() - self.started

    def stop(self, state: RetryCallState) -> bool:
        if self.max_retries is not None and state.attempt_number > self.max_retries:
            return True
        return self.used() >= self.seconds

    def wait(self, state: RetryCallState) -> float:
        return max(0.0, min(self.backoff(state), self.seconds - self.used()))

    def before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        status = getattr(error, "status", None)
        what = f"busy ({status})" if status else f"unavailable ({_reason(error)})"
        count = f", retry {state.attempt_number} of {self.max_retries}" if self.max_retries else ""
        log.warning(
            "%s: Copernica %s, retrying in %s, %s of %s used%s",
            self.what,
            what,
            duration(state.next_action.sleep if state.next_action else 0.0),
            duration(self.used()),
            duration(self.seconds),
            count,
        )

    def give_up(self, state: RetryCallState) -> Any:
        error = state.outcome.exception() if state.outcome is not None else None
        limits = f"extra.max_retry_duration={self.seconds:g} s"
        if self.max_retries is not None:
            limits += f", extra.max_retries={self.max_retries}"
        raise CopernicaRetryError(
            f"{self.what} failed after {state.attempt_number} attempt(s) in "
            f"{duration(self.used())}, last: {_reason(error)}; the retry budget ({limits}) "
            "is spent.",
            status=getattr(error, "status", None),
            attempts=state.attempt_number,
        ) from None

    def options(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception_type(TransientError),
            "stop": self.stop,
            "wait": self.wait,
            "before_sleep": self.before_sleep,
            "retry_error_callback": self.give_up,
        }


def _sleep(seconds: float) -> None:
    pause(seconds)


async def _asleep(seconds: float) -> None:
    await apause(seconds)


def retrying(settings: CopernicaSettings, what: str) -> Retrying:
    """A tenacity ``Retrying`` for one request; ``what`` (e.g. ``GET /v4/identity``) names it
    in logs and errors, so it must not hold query values or secrets."""
    return Retrying(sleep=_sleep, **RetryBudget(settings, what).options())


def async_retrying(settings: CopernicaSettings, what: str) -> AsyncRetrying:
    """The :func:`retrying` rules for coroutines."""
    return AsyncRetrying(sleep=_asleep, **RetryBudget(settings, what).options())

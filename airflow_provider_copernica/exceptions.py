"""Every public error the provider raises, under :class:`CopernicaError`. Messages never contain a
secret.

Which errors a task retries: configuration and authentication errors are also Airflow's
:class:`~airflow.sdk.exceptions.AirflowFailException`, so the task fails at once, without its
``retries`` (a retry cannot fix them, and would bill calls again). Every other error (the API's
answer, a spent retry budget, an empty interval, a failed wait) leaves Airflow's task retries
to do their job.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class CopernicaError(Exception):
    """Base class of every error this provider raises."""


class CopernicaConfigError(CopernicaError, AirflowFailException, ValueError):
    """Bad input (connection field, dataset option, field name, date, URI...).

    Raised before any API call, with the problem and the valid choices in the message. Fails
    the task without retries.
    """


class CopernicaAuthError(CopernicaError, AirflowFailException):
    """The access token or JWT was refused (after one re-authentication). Fails the task
    without retries; ``status`` is the HTTP status of the refusal, when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OAuthCallbackError(CopernicaAuthError):
    """The OAuth callback was refused (wrong state, denied access, no code, timeout)."""


class CopernicaAPIError(CopernicaError):
    """Copernica answered with an error that retrying will not fix (e.g. 400).

    ``status`` is the HTTP status, ``api_message`` Copernica's own message (secrets scrubbed).
    """

    def __init__(self, message: str, status: int | None = None, api_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message


class CopernicaRetryError(CopernicaError):
    """A request still failed after the retry budget (429/5xx/connection errors), or Copernica
    asked for a longer wait than allowed.

    ``status`` is the last HTTP status (None for a connection error), ``attempts`` the number
    of attempts made (None when the request was not retried at all).
    """

    def __init__(
        self, message: str, status: int | None = None, attempts: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class CopernicaEmptyResultError(CopernicaError):
    """Zero rows in the interval while ``allow_empty=False``."""


class CopernicaSchemaDriftError(CopernicaError, AirflowFailException):
    """The fields changed since the columns were pinned (``schema_policy="fail"``). Fails the
    task without retries: only the user can accept the change (``drift.py``)."""


class CopernicaSensorError(CopernicaError, AirflowException):
    """The sensor's deferred wait ended with an error event (the message names the cause)."""

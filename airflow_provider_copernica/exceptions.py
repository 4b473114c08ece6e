"""Errors raised by the provider. Messages never contain a secret."""

from __future__ import annotations


class CopernicaError(Exception):
    """Base class of every error this provider raises."""


class CopernicaConfigError(CopernicaError, ValueError):
    """Bad input (connection field, dataset option, field name, date, URI...).

    Raised before any API call, with the problem and the valid choices in the message.
    """


class CopernicaAuthError(CopernicaError):
    """The access token or JWT was refused (after one re-authentication)."""


class CopernicaAPIError(CopernicaError):
    """Copernica answered with an error that retrying will not fix (e.g. 400)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CopernicaRetryError(CopernicaError):
    """A request still failed after the retry budget (429/5xx/connection errors)."""


class CopernicaEmptyResultError(CopernicaError):
    """Zero rows in the interval while ``allow_empty=False``."""

"""Keeping secrets out of logs and messages: Airflow's secret masker, plain-text scrubbing,
and redacting urllib3's debug lines (they quote request URLs)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import quote_plus


def mask_secrets(*values: str | None) -> None:
    """Register values with Airflow's secret masker, so task logs show ``***``."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # older task SDKs
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore
    for value in values:
        if value:
            mask_secret(value)


async def amask_secrets(*values: str | None) -> None:
    """:func:`mask_secrets` for the event loop (the triggerer)."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # older task SDKs: the sync call is safe there
        mask_secrets(*values)
        return
    for value in values:
        if value:
            await amask_secret(value)


def scrub(text: str, secret_values: list[str]) -> str:
    """``text`` with every secret replaced by ``***`` (for messages built from foreign text)."""
    for value in secret_values:
        if value:
            text = text.replace(value, "***")
            text = text.replace(quote_plus(value), "***")
    return text


class _Redact(logging.Filter):
    def __init__(self, secret_values: list[str]) -> None:
        super().__init__()
        self.secret_values = secret_values

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.secret_values)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextlib.contextmanager
def redacted_http_logs(*secret_values: str) -> Iterator[None]:
    """urllib3 logs request URLs at debug level: redact secrets from them meanwhile."""
    redact = _Redact([v for v in secret_values if v])
    logger = logging.getLogger("urllib3.connectionpool")
    logger.addFilter(redact)
    try:
        yield
    finally:
        logger.removeFilter(redact)

"""A local Copernica REST v4 sandbox: seeded deterministic data, ground truth and faults.

Used by ``make demo``, the tests and the benchmarks; see ``copernica sandbox --help``.
"""

from __future__ import annotations

from airflow_provider_copernica.sandbox.data import SandboxData
from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.server import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxServer,
    sandbox_command,
)

__all__ = [
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "Faults",
    "SandboxData",
    "SandboxServer",
    "sandbox_command",
]

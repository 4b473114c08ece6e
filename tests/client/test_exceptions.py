"""The error model: one hierarchy in exceptions.py, and which errors Airflow retries.

The retry behaviour is checked on real task runs (``dag.test()``: the Task SDK runs the
operator, the scheduler loop decides about retries) with ``retries=2``.
"""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_copernica
from airflow_provider_copernica import exceptions
from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaAuthError,
    CopernicaConfigError,
    CopernicaError,
    CopernicaRetryError,
)
from airflow_provider_copernica.sandbox import SandboxServer

PACKAGE = Path(airflow_provider_copernica.__file__).parent


def test_every_public_error_is_defined_in_exceptions_under_copernica_error() -> None:
    defined = {
        name: cls
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if cls.__module__ == exceptions.__name__
    }
    assert all(issubclass(cls, CopernicaError) for cls in defined.values())
    # No other exception class in the package reaches a user. Exempt: the sandbox's (the fake
    # API's own errors) and retry.TransientError (the hook's signal to tenacity; a spent
    # budget becomes CopernicaRetryError).
    internal = {"class TransientError(Exception):"}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "exceptions.py" or "sandbox" in path.parts:
            continue
        for line in path.read_text().splitlines():
            if line in internal:
                continue
            if line.startswith("class ") and ("Error(" in line or "Exception(" in line):
                assert line.startswith("class _"), f"{path.name}: {line}"


def test_the_moved_errors_are_still_importable_where_they_were() -> None:
    from airflow_provider_copernica.cli.commands import OAuthCallbackError
    from airflow_provider_copernica.sensors.copernica import CopernicaSensorError

    assert OAuthCallbackError is exceptions.OAuthCallbackError
    assert CopernicaSensorError is exceptions.CopernicaSensorError
    assert issubclass(OAuthCallbackError, CopernicaAuthError)


def test_details_are_constructor_arguments_and_survive_pickling() -> None:
    api = CopernicaAPIError("GET /v4/x: HTTP 400: bad", status=400, api_message="bad")
    retry = CopernicaRetryError("GET /v4/x failed", status=503, attempts=6)
    auth = CopernicaAuthError("refused", status=401)
    assert (api.status, api.api_message) == (400, "bad")
    assert (retry.status, retry.attempts) == (503, 6)
    assert CopernicaRetryError("no wait").attempts is None
    assert auth.status == 401
    for error in (api, retry, auth):
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy), copy.__dict__) == (type(error), str(error), error.__dict__)


def test_config_and_auth_errors_tell_airflow_not_to_retry() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    assert issubclass(CopernicaConfigError, AirflowFailException)
    assert issubclass(CopernicaConfigError, ValueError)
    assert issubclass(CopernicaAuthError, AirflowFailException)
    for transient in (CopernicaAPIError, CopernicaRetryError, exceptions.CopernicaSensorError):
        assert not issubclass(transient, AirflowFailException)


@pytest.fixture
def metadata_db() -> Iterator[None]:
    from airflow.utils.db import initdb

    initdb()
    yield


DAG_FILE = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

with DAG(
    "{dag_id}",
    schedule=timedelta(days=1),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
):
    CopernicaToStorageOperator(
        task_id="extract",
        dataset="emailings",
        dataset_options={{"product": "draganddrop"}},
        output_uri="file://{output}",
        copernica_conn_id="copernica_retries",
        allow_empty=True,
        retries=2,
        retry_delay=timedelta(0),
    )
"""


def _run_with_retries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conn: dict[str, Any]) -> Any:
    """One real run (``dag.test()``) of a one-task DAG with retries=2; its task instance."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    dags = tmp_path / "dags"
    dags.mkdir()
    dag_id = f"copernica_retries_{tmp_path.name}"
    (dags / "retries.py").write_text(DAG_FILE.format(dag_id=dag_id, output=tmp_path / "out.jsonl"))
    from airflow import settings

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags))  # read once at import
    monkeypatch.setenv("AIRFLOW_CONN_COPERNICA_RETRIES", json.dumps(conn))
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(str(dags)).get_dag(dag_id)
    run = dag.test(logical_date=datetime(2026, 11, 18, tzinfo=timezone.utc))
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).one()
        session.expunge(ti)
    return ti


@pytest.mark.parametrize(
    ("case", "tries", "error"),
    [
        ("bad time zone", 1, "CopernicaConfigError: extra.timezone 'Mars/Olympus_Mons' is not"),
        ("revoked token", 1, "CopernicaAuthError: "),
        ("Copernica down", 3, "CopernicaRetryError: "),
    ],
)
def test_a_task_retries_only_what_a_retry_can_fix(
    case: str,
    tries: int,
    error: str,
    sandbox: SandboxServer,
    metadata_db: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    conn = sandbox.connection(max_retries=0, timeout=10)
    if case == "bad time zone":
        conn["extra"]["timezone"] = "Mars/Olympus_Mons"
    elif case == "revoked token":
        conn["password"] = "revoked-token"
    else:
        sandbox.faults.set("outage_after:0")

    ti = _run_with_retries(monkeypatch, tmp_path, conn)

    log = capfd.readouterr().out
    assert ti.state == "failed"
    assert ti.try_number == tries
    assert log.count(error) == tries, log[-3000:]
    data_calls = [r for r in sandbox.iter_requests("/v4/")]
    auth_calls = [r for r in sandbox.iter_requests("/authenticate")]
    if case == "bad time zone":
        assert (data_calls, auth_calls) == ([], [])  # refused before any call
    elif case == "revoked token":
        assert data_calls == []
        assert len(auth_calls) == 1  # the exchange was refused once, not once per try
    else:
        assert len(data_calls) == 3  # one per try (max_retries=0 within a try)

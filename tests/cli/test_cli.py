"""The ``copernica`` CLI as a person runs it: from a shell, with the connection stored in the
metadata DB of an ``AIRFLOW_HOME`` (``airflow db migrate`` + ``airflow connections add``),
against the session's sandbox over HTTP. No ``AIRFLOW_CONN_*`` variable is set."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN
from airflow_provider_copernica.sandbox.account import ACCOUNT

BIN = Path(sys.executable).parent
DAY = ("2026-11-10", "2026-11-11")


def _env(home: Path) -> dict[str, str]:
    """A shell environment with only this AIRFLOW_HOME: no AIRFLOW_CONN_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "NO_COLOR": "1",
        }
    )
    return env


def shell(
    command: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``command`` with bash, as typed at a prompt."""
    return subprocess.run(
        ["bash", "-c", command],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env["AIRFLOW_HOME"],
    )


@pytest.fixture(scope="module")
def airflow_home(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated AIRFLOW_HOME whose metadata DB holds ``copernica_default`` -> the sandbox."""
    home = tmp_path_factory.mktemp("cli-airflow-home")
    env = _env(home)
    migrated = shell("airflow db migrate", env, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    extra = json.dumps(sandbox.connection_extra() | {"max_retries": 2, "timeout": 10})
    added = shell(
        "airflow connections add copernica_default --conn-type copernica "
        f"--conn-host {shlex.quote(sandbox.url)} --conn-password {SANDBOX_ACCESS_TOKEN} "
        f"--conn-extra {shlex.quote(extra)}",
        env,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    return env


def test_test_connection_finds_the_metadata_db_connection(
    sandbox: Any, airflow_home: dict[str, str]
) -> None:
    listed = shell("airflow connections list -o plain", airflow_home)
    assert "copernica_default" in listed.stdout
    done = shell("copernica test-connection", airflow_home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"Connected to account {ACCOUNT['name']} ({ACCOUNT['company']})"
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/identity"]


def test_test_connection_names_a_missing_connection(airflow_home: dict[str, str]) -> None:
    done = shell("copernica test-connection --conn-id nowhere", airflow_home)
    assert done.returncode == 1
    assert "The conn_id `nowhere` isn't defined" in done.stdout


def test_preview_shows_the_sandbox_rows_from_a_metadata_db_connection(
    sandbox: Any, airflow_home: dict[str, str]
) -> None:
    done = shell(f"copernica preview clicks --from {DAY[0]} --to {DAY[1]} --limit 5", airflow_home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    truth = sorted(int(i) for i in sandbox.data.expected_ids("clicks", *DAY))
    assert len(truth) > 5
    # wider than a window: one record per block, each line "  column  value"
    assert lines[0] == "-- record 1 of 5 --"
    assert lines[1].split() == ["id", str(truth[0])] and lines[2].split()[0] == "mailing"
    assert [int(line.split()[1]) for line in lines if line.split()[:1] == ["id"]] == truth[:5]
    assert lines[-2] == f"{len(truth)} row(s) of clicks in the window (showing 5)"
    assert lines[-1] == f"left out: {len(truth) - 5} row(s) (raise limit)"


def test_datasets_reads_database_fields_through_a_metadata_db_connection(
    sandbox: Any, airflow_home: dict[str, str]
) -> None:
    done = shell("copernica datasets profiles --option database_id=7616", airflow_home)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()[3:] if line.strip()]
    truth = [f"fields.{f['name']}" for f in sandbox.data.records("database_fields")]
    assert truth and set(truth) <= set(names)


def test_datasets_with_fixed_columns_need_no_connection(sandbox: Any, tmp_path: Path) -> None:
    """No AIRFLOW_CONN_*, no metadata DB: the catalog answers on its own, no API call."""
    env = _env(tmp_path)
    done = shell("copernica datasets clicks --option product=html", env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "kind: events; options: [product: draganddrop|html], [unique: true|false]"
    assert lines[2].startswith("window: event timestamp in interval (draganddrop: begintime")
    rows = [line.split() for line in lines[5:]]
    expected = [(c.name, c.type) for c in DATASETS["clicks"].columns_for("html")]
    assert [tuple(r) for r in rows] == expected
    assert "link_title" in dict(expected)
    assert list(sandbox.iter_requests("/v4/")) == []


def test_datasets_search_lists_datasets_having_a_matching_column(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = shell("copernica datasets --search USERAGENT", env)
    assert done.returncode == 0, done.stderr
    found = {line.split()[0]: line for line in done.stdout.splitlines()[2:]}
    # (the logfiles name the user agent `header`, as Copernica documents)
    assert set(found) == {"clicks", "impressions"}
    assert "useragent" in found["clicks"]
    metric = shell("copernica datasets --search unsubscri", env)
    found = {line.split()[0] for line in metric.stdout.splitlines()[2:]}
    assert "emailing_statistics" in found, metric.stdout
    none = shell("copernica datasets --search no-such-column", env)
    assert none.returncode == 1 and "no dataset has a column matching" in none.stdout


def test_every_option_has_a_help_line() -> None:
    from airflow_provider_copernica.cli.arguments import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"copernica {name}: {action.option_strings or action.dest}"

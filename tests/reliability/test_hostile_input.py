"""Hostile and invalid input: each configuration is refused with a clear message naming the
problem (and the valid choices where there are some) before any data request, and nothing is
written. Values that would end up in URL paths or filters must never reach the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import anchor_of, data_requests, directory_listing, make_context


@dataclass(frozen=True)
class Case:
    id: str
    match: str  # regex the error message must contain
    kwargs: dict[str, Any] = field(default_factory=dict)  # operator arguments
    extra: dict[str, Any] = field(default_factory=dict)  # connection extra
    params: dict[str, Any] | None = None  # a manual run: no data interval, these params
    zero_width: bool = False


P = {"dataset": "profiles"}
C = {"dataset": "clicks"}


def _opts(**options: Any) -> dict[str, Any]:
    return {"dataset": "profiles", "dataset_options": options}


CASES = [
    # the dataset
    Case("unknown-dataset", r"Unknown dataset 'profile'.*profiles", {"dataset": "profile"}),
    Case("homoglyph-dataset", r"Unknown dataset.*valid datasets", {"dataset": "prоfiles"}),
    Case("dataset-wrong-type", r"Unknown dataset.*valid datasets", {"dataset": ["profiles"]}),
    Case("dataset-path-injection", r"Unknown dataset", {"dataset": "../identity"}),
    # options that end up in URL paths
    Case("options-not-a-mapping", r"must be a mapping", {**P, "dataset_options": "id=7616"}),
    Case(
        "id-path-traversal", r"database_id.*positive integer", _opts(database_id="1/../databases")
    ),
    Case("id-query-injection", r"database_id.*positive integer", _opts(database_id="1&limit=5")),
    Case("id-question-mark", r"database_id.*positive integer", _opts(database_id="7616?limit=5")),
    Case("id-encoded-slash", r"database_id.*positive integer", _opts(database_id="7616%2F..")),
    Case("id-negative", r"database_id.*positive integer", _opts(database_id=-1)),
    Case("id-zero", r"database_id.*positive integer", _opts(database_id=0)),
    Case("id-float", r"database_id.*positive integer", _opts(database_id=1.5)),
    Case("id-bool", r"database_id.*positive integer", _opts(database_id=True)),
    Case("id-dict", r"database_id.*positive integer", _opts(database_id={"$gt": 1})),
    Case("id-fullwidth-digits", r"database_id.*positive integer", _opts(database_id="７６１６")),
    Case("id-newline", r"database_id.*positive integer", _opts(database_id="7616\r\nX-A: 1")),
    Case("id-missing", r"needs option 'database_id'", _opts()),
    Case(
        "collection-traversal",
        r"collection_id.*positive integer",
        {"dataset": "subprofiles", "dataset_options": {"collection_id": "../../identity"}},
    ),
    Case(
        "product-traversal",
        r"Unknown product.*draganddrop, html",
        {**C, "dataset_options": {"product": "html/../databases"}},
    ),
    Case(
        "unknown-option",
        r"Unknown option.*'limit'.*valid options: database_id",
        _opts(database_id=7616, limit=5),
    ),
    Case(
        "templated-id-injection",
        r"database_id.*positive integer",
        {**P, "dataset_options": {"database_id": "{{ params.db }}"}},
        params={"db": "1&limit=5", "date_from": "2026-01-01", "date_to": "2026-01-02"},
    ),
    # columns and metadata
    Case(
        "unknown-field-sql",
        r"Unknown field.*available columns:.*link",
        {**C, "fields": ["id", "link; DROP TABLE clicks"]},
    ),
    Case(
        "unknown-field-crlf",
        r"Unknown field.*available columns",
        {**C, "fields": ["link\r\nX-Injected: 1"]},
    ),
    Case(
        "unknown-profile-field",
        r"(?i)unknown field.*fields\.",
        {**_opts(database_id=7616), "fields": ["fields.no_such_column"]},
    ),
    Case("empty-field-name", r"(?i)empty|unknown field", {**C, "fields": [""]}),
    Case("unknown-metadata", r"Unknown metadata.*_extracted_at", {**C, "metadata": ["_secret"]}),
    Case("unknown-format", r"Unknown file_format 'exe'.*jsonl", {**C, "file_format": "exe"}),
    # the connection
    Case("page-size-huge", r"page_size must be in 1..1000", C, {"page_size": 10**9}),
    Case("page-size-negative", r"page_size must be in 1..1000", C, {"page_size": -5}),
    Case("page-size-not-a-number", r"page_size must be a number", C, {"page_size": "1000;x"}),
    Case("max-retries-negative", r"max_retries must be in", C, {"max_retries": -1}),
    Case("timeout-not-a-number", r"timeout must be a number", C, {"timeout": "soon"}),
    Case("unknown-timezone", r"not an IANA time zone", C, {"timezone": "Mars/Olympus"}),
    Case("timezone-traversal", r"not an IANA time zone", C, {"timezone": "../../etc/passwd"}),
    Case("auth-url-file", r"auth_url must be an http\(s\) URL", C, {"auth_url": "file:///etc"}),
    Case("api-version-traversal", r"api_version must look like v4", C, {"api_version": "v4/.."}),
    Case("legacy-paths-not-bool", r"legacy_paths must be true or false", C, {"legacy_paths": 2}),
    # the window (manual runs: params)
    Case(
        "malformed-date",
        r"date_from='2026-13-45' is not a valid date",
        C,
        params={"date_from": "2026-13-45", "date_to": "2026-12-31"},
    ),
    Case(
        "reversed-window",
        r"date_from must be before date_to",
        C,
        params={"date_from": "2026-02-02", "date_to": "2026-02-01"},
    ),
    Case(
        "date-injection",
        r"is not a valid date",
        C,
        params={"date_from": "2026-01-01; rm -rf /", "date_to": "2026-01-02"},
    ),
    Case(
        "impossible-offset",
        r"is not a valid date",
        C,
        params={"date_from": "2026-01-01T00:00:00+25:00", "date_to": "2026-01-02"},
    ),
    Case("no-window", r"no data interval.*date_from", C, params={}),
    Case("zero-width-interval", r"CronDataIntervalTimetable", C, zero_width=True),
    # the output
    Case("output-uri-not-a-string", r"output_uri must be a string", {**C, "output_uri": 42}),
    Case("output-unknown-scheme", r"(?i)gopher", {**C, "output_uri": "gopher://example/x.jsonl"}),
]


def _context(case: Case, sandbox: Any) -> dict[str, Any]:
    end = anchor_of(sandbox)
    if case.params is not None:
        return {"run_id": "hostile", "params": dict(case.params)}
    start = end if case.zero_width else end - timedelta(days=1)
    return make_context(start, end, run_id="hostile")


def _no_data_request(sandbox: Any) -> None:
    # The profile-field discovery call is the only request allowed before validation ends.
    sent = [r.url for r in data_requests(sandbox) if not r.path.endswith("/fields")]
    assert sent == [], f"requests were sent before the input was refused: {sent}"


def _run(case: Case, context: dict[str, Any], out: Path) -> Any:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    kwargs = {"task_id": "hostile", "output_uri": f"file://{out}/result.jsonl", **case.kwargs}
    op = CopernicaToStorageOperator(**kwargs)
    op.render_template_fields(context)
    return op.execute(context)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_configuration_is_refused(
    case: Case, sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    connect(**case.extra)
    out = tmp_path / "out"
    with pytest.raises(CopernicaConfigError, match=case.match) as caught:
        _run(case, _context(case, sandbox), out)
    assert "Traceback" not in str(caught.value)
    _no_data_request(sandbox)
    assert directory_listing(out) == [], "something was written"


def test_output_under_a_file_is_refused_before_any_request(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    connect()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    case = Case("output-under-a-file", "", {**C, "output_uri": f"file://{blocker}/x.jsonl"})
    with pytest.raises(CopernicaConfigError):
        _run(case, _context(case, sandbox), tmp_path)
    _no_data_request(sandbox)
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    "name",
    ["../../escaped", "%2e%2e/%2e%2e/escaped", "..%2F..%2Fescaped", "..\\..\\escaped"],
    ids=["dotdot", "encoded-dots", "encoded-slashes", "backslashes"],
)
def test_templated_output_uri_cannot_escape_its_directory(
    name: str, sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    """A templated component (here a param a UI user types) must not climb out of the
    directory the DAG author wrote: ``..`` segments are refused, or the file stays inside."""
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    connect()
    base = tmp_path / "base" / "copernica"
    base.mkdir(parents=True)
    end = anchor_of(sandbox)
    context = make_context(end - timedelta(days=30), end, run_id="hostile")
    context["params"] = {"name": name}
    case = Case("", "", {**C, "output_uri": f"file://{base}/{{{{ params.name }}}}.jsonl"})
    try:
        _run(case, context, base)
    except CopernicaConfigError as error:
        assert ".." in str(error), str(error)
        _no_data_request(sandbox)
    escaped = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file() and base not in p.parents)
    assert escaped == [], f"the output escaped {base}: {escaped}"


def test_naive_datetimes_are_read_as_utc(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    """Safely handled rather than refused: naive params are UTC, as documented."""
    connect()
    end = anchor_of(sandbox)
    start = end - timedelta(days=2)
    params = {
        "date_from": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_to": end.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    case = Case("", "", {**C, "allow_empty": True})
    result = _run(case, {"run_id": "naive", "params": params}, tmp_path)
    assert result["interval_start"] == start.isoformat()
    assert result["interval_end"] == end.isoformat()

    # A data interval in another zone (a DAG timezone) is the same instants, in UTC.
    import pendulum

    amsterdam = pendulum.timezone("Europe/Amsterdam")
    context = make_context(start, end)
    context["data_interval_start"] = pendulum.instance(start).in_timezone(amsterdam)
    context["data_interval_end"] = pendulum.instance(end).in_timezone(amsterdam)
    result = _run(case, context, tmp_path)
    assert result["interval_start"] == start.isoformat()
    assert result["interval_end"] == end.isoformat()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["profiles", "--option", "database_id=1/../databases"], "positive integer"),
        (["profiles", "--option", "database_id=7616", "--limit", "-5"], "limit"),
        (["nope"], "valid datasets"),
        (["clicks", "--from", "2026-02-02", "--to", "2026-02-01"], "before date_to"),
        (["clicks", "--fields", "id,nope"], "available columns"),
    ],
    ids=["traversal", "negative-limit", "unknown-dataset", "reversed", "unknown-field"],
)
def test_preview_cli_refuses_bad_input(
    argv: list[str],
    match: str,
    sandbox: Any,
    connect: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_copernica.cli.arguments import main

    connect()
    window = ["--from", "2026-01-01", "--to", "2026-01-02"] if "--from" not in argv else []
    try:
        code = main(["preview", *argv, *window])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert match in err, err
    assert "Traceback" not in err
    _no_data_request(sandbox)


@pytest.mark.parametrize("min_records", [0, -1, "5", 1.5, True])
def test_sensor_refuses_bad_min_records(min_records: Any) -> None:
    from airflow_provider_copernica.exceptions import CopernicaConfigError
    from airflow_provider_copernica.sensors.copernica import CopernicaSensor

    with pytest.raises(CopernicaConfigError, match="min_records"):
        CopernicaSensor(task_id="s", dataset="clicks", min_records=min_records)

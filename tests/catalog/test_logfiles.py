"""``logfile_events``: Copernica's daily logfiles, listed, downloaded and parsed streaming."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sandbox_requests import refused_before_any_request, task_context

from airflow_provider_copernica.catalog.logfiles import LOG_TYPES, iter_json_records
from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.sandbox.logfiles import COLUMNS as SANDBOX_COLUMNS

UTC = timezone.utc
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The Europe/Amsterdam days 2026-10-24 .. 2026-10-26 (the clocks went back on the 25th).
DST_DAYS = Window(datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 26, 23, tzinfo=UTC))
THREE_DAYS = Window(datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC))


def rows_of(extraction: Any) -> list[dict[str, Any]]:
    return [row for page in extraction.pages() for row in page]


CASES = [
    (family, product)
    for family in LOG_TYPES
    for product in ("draganddrop", "html")
    if family != "feedback-loop-errors" or product == "draganddrop"
]


@pytest.mark.parametrize(("family", "product"), CASES, ids=lambda v: str(v))
def test_every_log_type_equals_the_ground_truth_over_the_dst_change(
    sandbox: Any, hook: CopernicaHook, family: str, product: str
) -> None:
    type_name = LOG_TYPES[family][product == "html"]
    options = {"log_type": family, "product": product}
    rows = rows_of(prepare(hook, "logfile_events", options=options, window=DST_DAYS))
    if family == "feedback-loop-errors":  # no id: the key is time|recipient|place in file
        truth = sandbox.app.logfiles.expected_rows(type_name, DST_DAYS.start, DST_DAYS.end)
        keys = sorted(f"{row['time']}|{row['recipient']}|{place}" for place, row in truth)
        assert keys and sorted(row["rowkey"] for row in rows) == keys
        return
    expected = sandbox.app.logfiles.expected_ids(type_name, DST_DAYS.start, DST_DAYS.end)
    assert expected and sorted(row["id"] for row in rows) == expected


def busiest_day(sandbox: Any, type_name: str, tz: tzinfo = UTC) -> Window:
    """The type's busiest day in ``tz`` (default UTC), as a UTC window."""
    days = Counter(
        datetime.fromtimestamp(moment, tz).date()
        for moment, _, _ in sandbox.app.logfiles.entries(type_name)
    )
    day = max(sorted(days), key=lambda d: days[d])
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return Window(start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))


def test_one_utc_day_is_exact_and_costs_one_call_per_file(
    sandbox: Any, hook: CopernicaHook, fresh_log: None
) -> None:
    window = busiest_day(sandbox, "cdm-click")
    extraction = prepare(hook, "logfile_events", options={"log_type": "clicks"}, window=window)
    rows = rows_of(extraction)
    expected = sandbox.app.logfiles.expected_ids("cdm-click", window.start, window.end)
    assert sorted(row["id"] for row in rows) == expected and expected
    # a UTC day touches two local days: the dates, then per day its names and its file
    calls = [("/v4/logfiles", "")]
    for day in (window.start.date(), window.end.date()):
        calls.append(("/v4/logfiles", f"date={day.isoformat()}&type=cdm-click"))
        for name in sandbox.app.logfiles.names(day.isoformat(), "cdm-click"):
            calls.append((f"/v4/logfile/{name}/json", ""))
    assert [(r.path, r.query) for r in sandbox.iter_requests("/v4/")] == calls
    assert len(calls) == 5 and extraction.api_calls == 5
    row = rows[0]
    assert row["email"].endswith("@example.com") and row["countrycode"] and "tags" in row
    assert row["time"].endswith("+00:00")  # naive local -> UTC like every timestamp


def test_a_window_reaching_into_today_is_refused_before_any_call(
    sandbox: Any, hook: CopernicaHook, fresh_log: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    window = Window(now - timedelta(days=2), now)
    extraction = prepare(hook, "logfile_events", options={"log_type": "clicks"}, window=window)
    with pytest.raises(CopernicaConfigError, match="has not ended.*still being written"):
        rows_of(extraction)
    assert list(sandbox.iter_requests("/v4/")) == []


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({}, "needs option 'log_type': one of attempts, deliveries"),
        ({"log_type": "opens"}, "valid log types: attempts, deliveries, retries"),
        ({"log_type": "pom-clicks"}, "is a html log, but the product is 'draganddrop'"),
    ],
)
def test_bad_log_types_are_refused_naming_the_choices(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, options: dict, needle: str
) -> None:
    refused_before_any_request(
        sandbox, needle, lambda: prepare(hook, "logfile_events", options=options, window=THREE_DAYS)
    )


def test_copernicas_own_type_name_is_accepted(sandbox: Any, hook: CopernicaHook) -> None:
    options = {"log_type": "pom-clicks", "product": "html"}
    rows = rows_of(prepare(hook, "logfile_events", options=options, window=THREE_DAYS))
    assert sorted(r["id"] for r in rows) == sandbox.app.logfiles.expected_ids(
        "pom-clicks", THREE_DAYS.start, THREE_DAYS.end
    )


def test_a_download_cut_off_in_transit_is_retried_whole(
    sandbox: Any, connect: Any, fresh_log: None
) -> None:
    from airflow_provider_copernica.engine.paging import LogfilePaginator, walk_pages

    window = busiest_day(sandbox, "cdm-click")
    name = sandbox.app.logfiles.names(window.start.date().isoformat(), "cdm-click")[0]
    hook = CopernicaHook(connect())
    sandbox.faults.set("truncate:1")  # the first download gets half the file, status 200
    paginator = LogfilePaginator(7, "GET logfile")
    pages = list(walk_pages(hook, f"logfile/{name}/json", [], paginator))
    day = window.start.date().isoformat()
    expected = [row["id"] for row in sandbox.app.logfiles.rows("cdm-click", day)]
    assert [row["id"] for page in pages for row in page] == expected  # none lost or twice
    assert len(pages) == -(-len(expected) // 7) > 1
    assert len(list(sandbox.iter_requests(f"/v4/logfile/{name}/json"))) == 2


def test_the_streaming_parser_reads_any_chunking() -> None:
    records = [
        {"id": f"x{n}", "city": "Zürich ü€", "n": n, "nested": {"a": [1, "]"]}} for n in range(50)
    ]
    data = json.dumps(records, ensure_ascii=False).encode()
    for size in (1, 2, 3, 7, 64, 1 << 16):
        assert list(iter_json_records(io.BytesIO(data), chunk_size=size)) == records
    assert list(iter_json_records(io.BytesIO(b" [ ] "))) == []
    assert list(iter_json_records(io.BytesIO(b""))) == []
    with pytest.raises(CopernicaAPIError, match="ends"):
        list(iter_json_records(io.BytesIO(data[:-10])))


def logfile_of(path: Any, rows: int) -> Any:
    row = {"id": "cdm-0", "time": "2026-10-25 02:30:00", "email": "a@example.com", "tags": ""}
    with path.open("wb") as out:
        out.write(b"[")
        out.write(b",".join(json.dumps(row | {"id": f"cdm-{n}"}).encode() for n in range(rows)))
        out.write(b"]")
    return path


# A child process parses one file and prints its record count and peak RSS (MB).
_PEAK_RSS = (
    "import resource, sys\n"
    "from airflow_provider_copernica.catalog.logfiles import iter_json_records\n"
    "with open(sys.argv[1], 'rb') as stream:\n"
    "    count = sum(1 for _ in iter_json_records(stream))\n"
    "print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def test_a_200k_row_file_is_parsed_in_constant_memory(tmp_path: Any) -> None:
    import subprocess
    import sys
    import tracemalloc

    path = logfile_of(tmp_path / "cdm-click.2026-10-25.log", 200_000)
    tracemalloc.start()
    with path.open("rb") as stream:
        count = sum(1 for _ in iter_json_records(stream))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size_mb, peak_mb = path.stat().st_size / 2**20, peak / 2**20
    print(f"200,000-row logfile ({size_mb:.1f} MB): parser peak {peak_mb:.2f} MB")
    assert count == 200_000 and peak_mb < 1.0  # one 64 kB chunk and one record, not the file
    # the process's peak RSS, against a 2,000-row file parsed the same way
    small = logfile_of(tmp_path / "cdm-click.2026-10-24.log", 2_000)
    peaks = {}
    for rows, file in ((2_000, small), (200_000, path)):
        child = [sys.executable, "-c", _PEAK_RSS, str(file)]
        out = subprocess.run(child, capture_output=True, text=True, check=True, timeout=300)
        counted, rss = out.stdout.splitlines()[-1].split()
        assert int(counted) == rows
        peaks[rows] = float(rss)
    growth = peaks[200_000] - peaks[2_000]
    print(f"peak RSS: 2,000 rows {peaks[2_000]:.1f} MB, 200,000 rows {peaks[200_000]:.1f} MB")
    assert growth < 0.5 * size_mb  # far less than the file: it is never held whole


@pytest.mark.parametrize(
    ("options", "type_name"),
    [
        ({"log_type": "clicks"}, "cdm-click"),
        ({"log_type": "clicks", "product": "html"}, "pom-clicks"),
        ({"log_type": "attempts"}, "cdm-attempts"),
        ({"log_type": "pom-clicks-old", "product": "html"}, "pom-clicks-old"),
    ],
)
def test_copernica_datasets_lists_a_log_types_documented_columns(
    capsys: Any, options: dict, type_name: str
) -> None:
    from airflow_provider_copernica.cli.arguments import main

    given = [a for k, v in options.items() for a in ("--option", f"{k}={v}")]
    assert main(["datasets", "logfile_events", *given]) == 0
    lines = capsys.readouterr().out.splitlines()
    columns = [
        line.split()[0]
        for line in lines[lines.index(next(x for x in lines if x.startswith("---"))) + 1 :]
    ]
    assert columns == list(SANDBOX_COLUMNS[type_name])


def test_days_before_the_oldest_kept_date_are_refused_after_one_call(
    sandbox: Any, hook: CopernicaHook, fresh_log: None
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAPIError

    oldest = sandbox.app.logfiles.dates()[0]
    window = Window(datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 2, tzinfo=UTC))
    extraction = prepare(hook, "logfile_events", options={"log_type": "clicks"}, window=window)
    with pytest.raises(
        CopernicaAPIError, match=f"no longer keeps logfiles of 2025-06-01.*{oldest}"
    ):
        rows_of(extraction)
    assert [(r.path, r.query) for r in sandbox.iter_requests("/v4/")] == [("/v4/logfiles", "")]


# -- the documented columns of every type, against the sandbox's own lists --------------


def to_utc(local: str) -> str:
    moment = datetime.fromisoformat(local).replace(tzinfo=AMSTERDAM)
    return moment.astimezone(UTC).isoformat()


def expected_rows(sandbox: Any, type_name: str, window: Window) -> list[dict[str, Any]]:
    """The ground truth as the output should carry it: the documented columns in order,
    times in UTC, and the feedback-loop errors' key (time|recipient|place in the file)."""
    rows = []
    for place, row in sandbox.app.logfiles.expected_rows(type_name, window.start, window.end):
        out = {"rowkey": f"{row['time']}|{row['recipient']}|{place}"} if "id" not in row else {}
        rows.append(out | row | {"time": to_utc(row["time"])})
    return rows


def operator_run(out: Any, options: dict, window: Window, **kwargs: Any) -> dict:
    context = task_context(window.start, window.end, "scheduled__logfiles")
    op = CopernicaToStorageOperator(
        task_id="logfiles",
        dataset="logfile_events",
        dataset_options=options,
        output_uri=str(out),
        **kwargs,
    )
    return op.execute(context)


def product_of(type_name: str) -> str:
    return "html" if type_name.startswith("pom-") else "draganddrop"


@pytest.mark.parametrize("type_name", list(SANDBOX_COLUMNS))
def test_every_log_type_lands_with_its_documented_columns(
    sandbox: Any, copernica_conn: str, tmp_path: Any, type_name: str
) -> None:
    window = busiest_day(sandbox, type_name, AMSTERDAM)
    out = tmp_path / f"{type_name}.jsonl"
    options = {"log_type": type_name, "product": product_of(type_name)}
    result = operator_run(out, options, window)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = expected_rows(sandbox, type_name, window)
    assert expected and result["rows"] == len(rows) == len(expected)
    # the type's own list (the sandbox's copy of Copernica's page), in its order
    key = ["rowkey"] if type_name == "feedback-loop-errors" else []
    assert [list(row) for row in rows] == [key + list(SANDBOX_COLUMNS[type_name])] * len(rows)
    key_of = (lambda r: r["rowkey"]) if key else (lambda r: r["id"])
    got = sorted(rows, key=key_of)
    want = sorted(expected, key=key_of)
    for column in key + list(SANDBOX_COLUMNS[type_name]):
        # (old-style pom-clicks rows have no linkinfo: null)
        assert [r[column] for r in got] == [r.get(column) for r in want], column


def test_the_names_are_the_same_in_jsonl_csv_and_parquet(
    sandbox: Any, copernica_conn: str, tmp_path: Any
) -> None:
    import csv

    import pyarrow.parquet as pq

    for type_name in ("cdm-attempts", "cdm-click", "pom-clicks", "feedback-loop-errors"):
        window = busiest_day(sandbox, type_name, AMSTERDAM)
        options = {"log_type": type_name, "product": product_of(type_name)}
        names = {}
        for fmt in ("jsonl", "csv", "parquet"):
            out = tmp_path / f"{type_name}.{fmt}"
            operator_run(out, options, window, file_format=fmt)
            if fmt == "jsonl":
                names[fmt] = list(json.loads(out.read_text().splitlines()[0]))
            elif fmt == "csv":
                with out.open(newline="") as stream:
                    names[fmt] = next(csv.reader(stream))
            else:
                names[fmt] = pq.read_schema(out).names
        key = ["rowkey"] if type_name == "feedback-loop-errors" else []
        assert names["jsonl"] == names["csv"] == names["parquet"]
        assert names["jsonl"] == key + list(SANDBOX_COLUMNS[type_name])


def test_the_datasets_docs_list_every_log_types_columns_from_the_catalog() -> None:
    from airflow_provider_copernica.catalog import describe
    from scripts import docs_tables

    (region,) = docs_tables.regions(["logfile-columns"])
    assert region.path == "docs/datasets.md"
    table = region.current()
    assert table == describe.logfile_columns_markdown()
    for type_name, columns in SANDBOX_COLUMNS.items():
        line = next(x for x in table.splitlines() if x.startswith(f"| `{type_name}` |"))
        listed = line.split(" | ")[2]
        assert listed.split(", ") == [f"`{c}` {t}" for c, t in typed(type_name, columns)]


def typed(type_name: str, columns: tuple[str, ...]) -> list[tuple[str, str]]:
    """The columns' types as the sandbox serves them: ints stay ints, times become
    timestamps, the rest is text; feedback-loop-errors' key first."""
    key = [("rowkey", "str")] if type_name == "feedback-loop-errors" else []
    return key + [(c, SERVED_TYPES.get(c, "str")) for c in columns]


SERVED_TYPES = {
    "time": "timestamp",
    **dict.fromkeys(
        (
            *("mailingid", "profileid", "subprofileid", "databaseid", "collectionid"),
            *("templateid", "documentid", "profile", "subprofile", "template", "document"),
            *("groupid", "attempts", "attempt", "response"),
        ),
        "int",
    ),
}

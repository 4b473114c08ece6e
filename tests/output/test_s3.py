"""``s3://`` output through Airflow's Amazon provider and s3fs, against moto's S3 server
(``ThreadedMotoServer`` on 127.0.0.1, a free port) over real HTTP.

Killed-writer tests run the operator in a child process and SIGKILL it while the server
holds one chosen request (the temporary object's upload, or the commit's server-side copy):
what a worker dying at that instant leaves behind is then exactly what S3 holds.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

pytest.importorskip("moto.server")
pytest.importorskip("s3fs")
pytest.importorskip("airflow.providers.amazon")

from moto.server import ThreadedMotoServer  # noqa: E402

from airflow_provider_copernica.operators.copernica import (  # noqa: E402
    CopernicaToStorageOperator,
)
from airflow_provider_copernica.output.writers import temporary_name  # noqa: E402
from airflow_provider_copernica.testing import make_context  # noqa: E402

BUCKET = "copernica-test"
CONN_ID = "copernica_s3"
START = pendulum.datetime(2026, 11, 10, tz="UTC")
END = pendulum.datetime(2026, 11, 11, tz="UTC")
KEY = "copernica/profiles/20261110T000000Z_20261111T000000Z"


class Hold:
    """WSGI middleware: requests matching a predicate wait until released, then fail.

    ``arrived`` is set when the first matching request reaches the server; the request never
    reaches moto (as if the client died with it in flight)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.match: Callable[[dict[str, Any]], bool] | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.match is not None and self.match(environ):
            self.arrived.set()
            self.release.wait(timeout=120)
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)

    def hold(self, match: Callable[[dict[str, Any]], bool]) -> None:
        self.match, self.arrived, self.release = match, threading.Event(), threading.Event()

    def clear(self) -> None:
        self.match = None
        self.release.set()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[tuple[str, Hold]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    hold = Hold(server._server.app)  # type: ignore[union-attr]  # the WSGI app it serves
    server._server.app = hold  # type: ignore[union-attr]
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}", hold
    finally:
        hold.clear()
        server.stop()


@pytest.fixture
def s3(
    s3_server: tuple[str, Hold], monkeypatch: pytest.MonkeyPatch, copernica_conn: str
) -> Iterator[Any]:
    """An empty bucket and the Airflow AWS connection ``copernica_s3`` pointing at it."""
    import boto3

    url, hold = s3_server
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", _aws_connection(url))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        hold.clear()
        for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
        client.delete_bucket(Bucket=BUCKET)


def _aws_connection(url: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": url, "region_name": "us-east-1"},
        }
    )


def _keys(client: Any) -> list[str]:
    return sorted(i["Key"] for i in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _body(client: Any, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _expected(sandbox: Any) -> list[int]:
    ids = sorted(sandbox.data.expected_ids("profiles", START, END, database_id=7616))
    assert ids
    return ids


def _operator(uri: str, file_format: str = "jsonl") -> CopernicaToStorageOperator:
    return CopernicaToStorageOperator(
        task_id="profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        output_uri=uri,
        output_conn_id=CONN_ID,
        file_format=file_format,
    )


def test_jsonl_round_trip_lands_one_exact_object_and_names_the_asset(sandbox: Any, s3: Any) -> None:
    uri = f"s3://{BUCKET}/{KEY}.jsonl"
    op = _operator(uri)
    assert [a.uri for a in op.outlets] == [uri]  # the Asset, named at parse time
    result = op.execute(make_context(START, END))

    assert result["uri"] == uri
    assert _keys(s3) == [f"{KEY}.jsonl"]  # no temporary left beside it
    rows = [json.loads(line) for line in _body(s3, f"{KEY}.jsonl").splitlines()]
    assert [r["id"] for r in rows] == _expected(sandbox) and result["rows"] == len(rows)


def test_parquet_round_trip(sandbox: Any, s3: Any) -> None:
    import pyarrow.parquet as pq

    uri = f"s3://{BUCKET}/{KEY}.parquet"
    result = _operator(uri, "parquet").execute(make_context(START, END))
    assert _keys(s3) == [f"{KEY}.parquet"]
    table = pq.read_table(io.BytesIO(_body(s3, f"{KEY}.parquet")))
    assert (
        table.column("id").to_pylist()
        == _expected(sandbox)
        == sorted(table.column("id").to_pylist())
    )
    assert table.num_rows == result["rows"]
    assert table.schema.field("id").type == "int64"


def test_a_second_run_replaces_the_object(sandbox: Any, s3: Any) -> None:
    uri = f"s3://{BUCKET}/{KEY}.jsonl"
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.jsonl", Body=b'{"id": -1}\n')
    _operator(uri).execute(make_context(START, END))
    rows = [json.loads(line) for line in _body(s3, f"{KEY}.jsonl").splitlines()]
    assert [r["id"] for r in rows] == _expected(sandbox)
    assert _keys(s3) == [f"{KEY}.jsonl"]


_CHILD = """
import sys
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.testing import make_context
import pendulum
op = CopernicaToStorageOperator(task_id="profiles", dataset="profiles",
    dataset_options={"database_id": 7616}, output_uri=sys.argv[1], output_conn_id=sys.argv[2])
op.execute(make_context(pendulum.datetime(2026, 11, 10, tz="UTC"),
                        pendulum.datetime(2026, 11, 11, tz="UTC")))
"""


def _is_temporary_upload(environ: dict[str, Any]) -> bool:
    name = f"/{BUCKET}/{os.path.dirname(KEY)}/{temporary_name(Path(KEY).name + '.jsonl', '')}"
    return environ["REQUEST_METHOD"] == "PUT" and environ["PATH_INFO"].startswith(name)


def _is_commit_copy(environ: dict[str, Any]) -> bool:
    return environ["REQUEST_METHOD"] == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" in environ


def _is_temporary_delete(environ: dict[str, Any]) -> bool:
    """The commit's second step: the temporary's DELETE (or a DeleteObjects POST naming it)."""
    name = f"/{BUCKET}/{os.path.dirname(KEY)}/{temporary_name(Path(KEY).name + '.jsonl', '')}"
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if method == "DELETE" and path.startswith(name):
        return True
    return method == "POST" and "delete" in environ.get("QUERY_STRING", "")


def _kill_writer_at(hold: Hold, match: Callable[[dict[str, Any]], bool], tmp_path: Path) -> None:
    """Run the operator in a child; SIGKILL it once ``match``ing request is in flight."""
    hold.hold(match)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, f"s3://{BUCKET}/{KEY}.jsonl", CONN_ID],
        env=os.environ | {"AIRFLOW_HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        if not hold.arrived.wait(timeout=120):
            out = child.communicate(timeout=30)[0] if child.poll() is not None else b""
            raise AssertionError(f"the held request never came:\n{out.decode()[-3000:]}")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        hold.clear()
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("previous", [None, b'{"id": -1, "previous": true}\n'])
def test_writer_killed_during_the_upload_leaves_the_final_key_as_it_was(
    sandbox: Any, s3: Any, s3_server: tuple[str, Hold], tmp_path: Path, previous: bytes | None
) -> None:
    if previous is not None:
        s3.put_object(Bucket=BUCKET, Key=f"{KEY}.jsonl", Body=previous)
    _kill_writer_at(s3_server[1], _is_temporary_upload, tmp_path)
    if previous is None:
        assert _keys(s3) == []  # no object at the final key, and no partial one anywhere
    else:
        assert _keys(s3) == [f"{KEY}.jsonl"]
        assert _body(s3, f"{KEY}.jsonl") == previous  # the previous object, intact


def test_writer_killed_during_the_commit_leaves_a_temporary_that_the_next_write_removes(
    sandbox: Any, s3: Any, s3_server: tuple[str, Hold], tmp_path: Path
) -> None:
    previous = b'{"id": -1, "previous": true}\n'
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.jsonl", Body=previous)
    _kill_writer_at(s3_server[1], _is_commit_copy, tmp_path)

    [temporary] = [k for k in _keys(s3) if k != f"{KEY}.jsonl"]
    assert Path(temporary).name.startswith(temporary_name(f"{Path(KEY).name}.jsonl", ""))
    assert _body(s3, f"{KEY}.jsonl") == previous  # the commit never happened
    _age_object(temporary, timedelta(hours=2))  # as an upload by a worker killed 2 h ago

    _operator(f"s3://{BUCKET}/{KEY}.jsonl").execute(make_context(START, END))
    assert _keys(s3) == [f"{KEY}.jsonl"]  # the stale temporary is gone
    rows = [json.loads(line) for line in _body(s3, f"{KEY}.jsonl").splitlines()]
    assert [r["id"] for r in rows] == _expected(sandbox)


def test_writer_killed_between_the_copy_and_the_delete_leaves_the_new_object_and_a_temporary(
    sandbox: Any, s3: Any, s3_server: tuple[str, Hold], tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.jsonl", Body=b'{"id": -1, "previous": true}\n')
    _kill_writer_at(s3_server[1], _is_temporary_delete, tmp_path)  # the copy went through

    [temporary] = [k for k in _keys(s3) if k != f"{KEY}.jsonl"]
    assert Path(temporary).name.startswith(temporary_name(f"{Path(KEY).name}.jsonl", ""))
    committed = _body(s3, f"{KEY}.jsonl")
    assert [json.loads(line)["id"] for line in committed.splitlines()] == _expected(sandbox)
    assert _body(s3, temporary) == committed  # the complete temporary, beside the target
    _age_object(temporary, timedelta(hours=2))

    _operator(f"s3://{BUCKET}/{KEY}.jsonl").execute(make_context(START, END))
    assert _keys(s3) == [f"{KEY}.jsonl"]  # the next write of the target removed it


def test_a_fresh_temporary_of_a_live_writer_is_left_alone(sandbox: Any, s3: Any) -> None:
    live = f"{os.path.dirname(KEY)}/{temporary_name(Path(KEY).name + '.jsonl')}"
    s3.put_object(Bucket=BUCKET, Key=live, Body=b"in progress")
    _operator(f"s3://{BUCKET}/{KEY}.jsonl").execute(make_context(START, END))
    assert _keys(s3) == sorted([f"{KEY}.jsonl", live])


def _age_object(key: str, by: timedelta) -> None:
    """Move an object's LastModified back (moto's server runs in this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    stored = backend.buckets[BUCKET].keys[key]
    stored.last_modified = stored.last_modified - by

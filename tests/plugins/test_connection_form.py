"""The api-server middleware behind the connection form (the browser test drives it for real)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from airflow_provider_copernica.plugins.connection_form import (
    CopernicaConnectionFormMiddleware,
    clean_connection_body,
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["POST", "PATCH"])
    async def echo(path: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"body": json.loads(body), "length": request.headers["content-length"]}

    app.add_middleware(CopernicaConnectionFormMiddleware)
    return TestClient(app)


UI_TEST_BODY = {  # what Airflow 3.3.2's Test button posts for a stored Copernica connection
    "conn_type": "copernica",
    "connection_id": "copernica_default",
    "description": "",
    "extra": json.dumps({"timezone": "UTC", "client_id": None, "page_size": None}),
    "host": "http://127.0.0.1:1",
    "login": "",
    "password": "***",
    "port": 0,
    "schema": "",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v2/connections/test"),
        ("POST", "/api/v2/connections"),
        ("PATCH", "/api/v2/connections/copernica_default"),
    ],
)
def test_copernica_bodies_lose_the_port_and_the_untyped_extras(
    client: TestClient, method: str, path: str
) -> None:
    reply = client.request(method, path, json=UI_TEST_BODY).json()
    body = reply["body"]
    assert "port" not in body
    assert json.loads(body["extra"]) == {"timezone": "UTC"}
    assert body["password"] == "***" and body["host"] == "http://127.0.0.1:1"
    assert int(reply["length"]) == len(json.dumps(body))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v2/connections/test", {**UI_TEST_BODY, "conn_type": "http"}),
        ("PATCH", "/api/v2/connections", UI_TEST_BODY),  # bulk: not the form
        ("POST", "/api/v2/variables", UI_TEST_BODY),
    ],
)
def test_other_requests_pass_unchanged(
    client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    assert client.request(method, path, json=body).json()["body"] == body


def test_a_real_port_and_typed_values_are_kept() -> None:
    body = {"conn_type": "copernica", "port": 8443, "extra": '{"page_size": 0, "x": false}'}
    assert clean_connection_body(body) is None
    assert clean_connection_body({"conn_type": "copernica", "extra": "not json"}) is None

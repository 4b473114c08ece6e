"""The sandbox server over real HTTP: contract, auth, faults, data and its ground truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from airflow_provider_copernica.sandbox import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxData,
    SandboxServer,
)

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc


def jwt_for(server: SandboxServer, token: str = SANDBOX_ACCESS_TOKEN) -> str:
    response = requests.post(f"{server.url}/authenticate", data={"access_token": token}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture
def api(sandbox: SandboxServer) -> Any:
    """GET /v4/<path> with a valid JWT on a keep-alive session; returns the response."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {jwt_for(sandbox)}"

    def get(path: str, params: Any = None) -> requests.Response:
        return session.get(f"{sandbox.url}/v4/{path}", params=params, timeout=10)

    yield get
    session.close()


def local(moment: datetime) -> str:
    return moment.astimezone(AMS).strftime("%Y-%m-%d %H:%M:%S")


def ids_of(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(r.get("ID", r.get("id"))) for r in response.json()["data"]]


def fetch_all(api: Any, path: str, params: list[tuple[str, Any]]) -> list[int]:
    found: list[int] = []
    start = 0
    while True:
        page = api(path, [*params, ("start", start), ("limit", 1000)]).json()
        found += [int(r.get("ID", r.get("id"))) for r in page["data"]]
        start += page["count"]
        if start >= page["total"]:
            return found


# -- envelope and paging -------------------------------------------------------------------


def test_envelope_default_limit_cap_and_total(api: Any, sandbox: SandboxServer) -> None:
    default = api("database/7616/profiles").json()
    all_ids = sorted(sandbox.data.expected_ids("profiles", "2000-01-01", "2100-01-01"))
    assert (default["start"], default["limit"], default["count"]) == (0, 100, 100)
    assert default["total"] == len(all_ids)
    assert [int(r["ID"]) for r in default["data"]] == all_ids[:100]

    capped = api("database/7616/profiles", {"limit": 5000, "start": 10}).json()
    assert (capped["limit"], capped["count"]) == (1000, 1000)
    assert [int(r["ID"]) for r in capped["data"]] == all_ids[10:1010]

    no_total = api("database/7616/profiles", {"limit": 3, "total": "false"}).json()
    assert "total" not in no_total and no_total["count"] == 3


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "abc"}, "invalid limit"),
        ({"limit": 0}, "invalid limit"),
        ({"start": -1}, "invalid start"),
        ({"orderby": "shoe_size"}, "invalid orderby"),
        ({"order": "sideways"}, "invalid order"),
    ],
)
def test_bad_parameters_get_400_with_message(api: Any, params: dict, needle: str) -> None:
    response = api("database/7616/profiles", params)
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


def test_unknown_ids_and_paths_are_404(api: Any) -> None:
    assert api("database/999/profiles").status_code == 404
    assert api("collection/1/subprofiles").status_code == 404
    assert api("draganddrop/emailing/1/statistics").status_code == 404
    assert api("no/such/path").status_code == 404
    assert "error" in api("database/999").json()


def test_snapshots_and_bare_id_arrays(api: Any, sandbox: SandboxServer) -> None:
    databases = api("databases").json()
    assert [d["ID"] for d in databases["data"]] == ["7616", "7617", "7618"]
    db = api("database/7616").json()
    assert db["name"] == "Newsletter" and db["fields"]["count"] == len(db["fields"]["data"])
    fields = api("database/7616/fields").json()["data"]
    assert {f["name"]: f["type"] for f in fields}["age"] == "integer"
    assert [i["name"] for i in api("database/7616/interests").json()["data"]][:2] == [
        "soccer",
        "baseball",
    ]
    collections = api("database/7616/collections").json()["data"]
    assert [c["ID"] for c in collections] == ["6312", "6313"]
    assert [f["name"] for f in api("collection/6312/fields").json()["data"]][0] == "order_number"
    profile_ids = api("database/7616/profileids", {"limit": 5}).json()
    assert profile_ids == sandbox.data.expected_ids("profiles", "2000-01-01", "2100-01-01")[:5]
    assert api("identity").json()["id"] == "34"


# -- filters --------------------------------------------------------------------------------


def test_keyset_and_modified_filter_match_ground_truth(api: Any, sandbox: SandboxServer) -> None:
    start = datetime(2026, 8, 1, tzinfo=UTC)
    end = datetime(2026, 9, 1, tzinfo=UTC)
    expected = sandbox.data.expected_ids("profiles", start, end, database_id=7616)
    assert len(expected) > 300
    got: list[int] = []
    last = 0
    while True:
        page = api(
            "database/7616/profiles",
            [
                ("fields[]", f"modified>={local(start)}"),
                ("fields[]", f"modified<{local(end)}"),
                ("fields[]", f"id>{last}"),
                ("orderby", "id"),
                ("order", "asc"),
                ("total", "false"),
                ("limit", 200),
            ],
        )
        batch = ids_of(page)
        got += batch
        if len(batch) < 200:
            break
        last = batch[-1]
    assert got == expected


def test_field_filters_order_and_dataonly(api: Any, sandbox: SandboxServer) -> None:
    records = sandbox.data.records("profiles", database_id=7616)
    in_city = [int(r["ID"]) for r in records if r["fields"].get("city") == "Den Haag"]
    assert fetch_all(api, "database/7616/profiles", [("fields[]", "city==Den Haag")]) == in_city
    like = [int(r["ID"]) for r in records if r["fields"].get("firstname", "").startswith("Zo")]
    assert fetch_all(api, "database/7616/profiles", [("fields[]", "firstname=~zo%")]) == like
    older = [int(r["ID"]) for r in records if r["fields"] and int(r["fields"]["age"]) >= 70]
    got = fetch_all(api, "database/7616/profiles", [("fields[]", "age>=70"), ("fields[]", "id>0")])
    assert got == older

    newest = api("database/7616/profiles", {"orderby": "modified", "order": "desc", "limit": 5})
    stamps = [r["modified"] for r in newest.json()["data"]]
    assert stamps == sorted(stamps, reverse=True)
    slim = api("database/7616/profiles", {"dataonly": "true", "limit": 1}).json()["data"][0]
    assert set(slim) == {"ID", "fields", "interests", "database", "modified"}
    full = api("database/7616/profiles", {"limit": 1}).json()["data"][0]
    assert {"secret", "created", "removed"} <= set(full)


def test_seeded_removed_profiles_vanish_but_profile_id_shows_them(
    api: Any, sandbox: SandboxServer
) -> None:
    removed = sandbox.data.removed_ids("profiles", database_id=7616)
    assert removed, "the seed should contain removed profiles"
    listed = fetch_all(api, "database/7616/profiles", [])
    assert not set(removed) & set(listed)
    assert listed == [int(r["ID"]) for r in sandbox.data.records("profiles", database_id=7616)]
    total = api("database/7616/profiles", {"limit": 1}).json()["total"]
    assert total == len(listed) == len(sandbox.data.profile_table(7616).ids) - len(removed)
    shown = api(f"profile/{removed[0]}").json()
    assert shown["ID"] == str(removed[0]) and shown["removed"] > shown["modified"]
    assert shown["fields"] and set(shown["fields"].values()) == {""}
    unknown = api("profile/12")
    assert unknown.status_code == 400
    assert unknown.json() == {"error": {"message": "No entity with supplied ID"}}
    assert api("subprofile/12").json() == {"error": {"message": "No subprofile with supplied ID"}}


def test_removing_a_profile_removes_its_subprofiles_and_keeps_modified(
    api: Any, sandbox: SandboxServer
) -> None:
    orders = sandbox.data.subprofile_table(6312)
    parent = next(
        orders.parents[orders.src[i]] for i in orders.alive() if orders.parents is not None
    )
    before = api(f"profile/{parent}").json()
    assert before["removed"] is False and before["fields"]["email"]
    subs = [
        int(r["ID"])
        for r in sandbox.data.records("subprofiles", collection_id=6312)
        if r["profile"] == str(parent)
    ]
    total = api("database/7616/profiles", {"limit": 1}).json()["total"]
    sub_total = api("collection/6312/subprofiles", {"limit": 1}).json()["total"]

    answer = requests.post(
        f"{sandbox.url}/_sandbox/remove", json={"profiles": [parent]}, timeout=10
    ).json()
    assert answer["removed"]["profiles"] == [parent]
    assert sorted(answer["removed"]["subprofiles"]) == sorted(subs) and subs

    after = api(f"profile/{parent}").json()
    assert after["modified"] == before["modified"]  # removing does not change modified
    assert after["removed"] and set(after["fields"].values()) == {""}
    assert parent not in fetch_all(api, "database/7616/profiles", [])
    assert api("database/7616/profiles", {"limit": 1}).json()["total"] == total - 1
    assert api("collection/6312/subprofiles", {"limit": 1}).json()["total"] == sub_total - len(subs)
    assert api(f"subprofile/{subs[0]}").json()["removed"]
    assert parent in sandbox.data.removed_ids("profiles", database_id=7616)
    assert set(subs) <= set(sandbox.data.removed_ids("subprofiles", collection_id=6312))
    window = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert parent not in sandbox.data.expected_ids("profiles", *window, database_id=7616)
    sandbox.reset()
    assert api(f"profile/{parent}").json()["removed"] is False
    assert api("database/7616/profiles", {"limit": 1}).json()["total"] == total


def test_subprofiles_and_record_shapes(api: Any, sandbox: SandboxServer) -> None:
    sub = api("collection/6312/subprofiles", {"limit": 1}).json()["data"][0]
    assert set(sub) >= {"ID", "secret", "fields", "profile", "collection", "created", "modified"}
    assert sub["collection"] == "6312" and sub["ID"].isdigit()
    mailing = api("draganddrop/emailings", {"limit": 1}).json()["data"][0]
    assert set(mailing) == {
        "id",
        "timestamp",
        "template",
        "subject",
        "from_address",
        "destinations",
        "type",
        "target",
    }
    assert isinstance(mailing["destinations"], int) and mailing["target"]["sources"]
    html = api("html/emailings", {"limit": 1}).json()["data"][0]
    assert isinstance(html["destinations"], str) and "contenttype" in html
    click = api("draganddrop/clicks", {"limit": 1}).json()["data"][0]
    assert {"ID", "mailing", "link", "timestamp", "ip", "useragent", "destination"} <= set(click)
    html_error = api("html/errors", {"limit": 1}).json()["data"][0]
    assert {"errorcode", "errortype", "emailing", "profile", "subprofile"} <= set(html_error)
    # legacy prefixes are aliases
    assert api("ms/clicks", {"limit": 3}).json() == api("draganddrop/clicks", {"limit": 3}).json()
    assert api("publisher/emailings").json() == api("html/emailings").json()


def test_draganddrop_events_begintime_endtime_are_inclusive(
    api: Any, sandbox: SandboxServer
) -> None:
    times = sandbox.data.record_times("clicks", product="draganddrop")
    ident, moment = sorted(times.items())[len(times) // 2]
    stamp = local(moment)
    response = api("draganddrop/clicks", {"begintime": stamp, "endtime": stamp})
    assert ident in ids_of(response)  # one second wide, both ends included
    # a half-open [start, end) window asked as begintime=start, endtime=end-1s matches truth
    start = datetime(2026, 9, 7, 22, tzinfo=UTC)
    end = start + timedelta(days=7)
    expected = sandbox.data.expected_ids("clicks", start, end, product="draganddrop")
    params = [("begintime", local(start)), ("endtime", local(end - timedelta(seconds=1)))]
    assert fetch_all(api, "draganddrop/clicks", params) == expected and expected
    assert api("draganddrop/clicks", {"fields[]": "id>1"}).status_code == 400


def test_html_events_filter_with_fields(api: Any, sandbox: SandboxServer) -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    end = datetime(2026, 7, 15, tzinfo=UTC)
    for kind in ("deliveries", "impressions", "clicks"):
        expected = sandbox.data.expected_ids(kind, start, end, product="html")
        params = [
            ("fields[]", f"timestamp>={local(start)}"),
            ("fields[]", f"timestamp<{local(end)}"),
        ]
        assert fetch_all(api, f"html/{kind}", params) == expected and expected
    refused = api("html/clicks", {"begintime": local(start)})
    assert refused.status_code == 400 and "fields[]=timestamp" in refused.json()["error"]["message"]


def test_per_emailing_events_statistics_and_destinations(api: Any, sandbox: SandboxServer) -> None:
    for product in ("draganddrop", "html"):
        mailings = sandbox.data.records("emailings", product=product)
        mailing = mailings[len(mailings) // 2]
        ident = int(mailing["id"])
        events = api(f"{product}/emailing/{ident}/impressions", {"limit": 1000}).json()["data"]
        key = "mailing" if product == "draganddrop" else "emailing"
        assert events and {e[key] for e in events} == {str(ident)}
        dests = api(f"{product}/emailing/{ident}/destinations", {"limit": 1000}).json()
        assert dests["total"] == int(mailing["destinations"])
        stats = api(f"{product}/emailing/{ident}/statistics").json()
        everything = sandbox.data.expected_statistics("2000-01-01", "2100-01-01", product=product)
        assert stats == everything[ident]
        assert stats["impressions"]["total"] == len(
            [
                e
                for e in sandbox.data.records("impressions", product=product)
                if e[key] == str(ident)
            ]
        )


def test_statistics_window_and_emailing_filters(api: Any, sandbox: SandboxServer) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = datetime(2026, 10, 8, tzinfo=UTC)
    expected = sandbox.data.expected_statistics(start, end)
    busy = sandbox.data.expected_ids("emailing_statistics", start, end)
    assert busy
    for ident in busy[:3]:
        got = api(
            f"draganddrop/emailing/{ident}/statistics",
            {"begintime": local(start), "endtime": local(end - timedelta(seconds=1))},
        ).json()
        assert got == expected[ident]
    sent = sandbox.data.expected_ids("emailings", start, end)
    window = {"fromdate": local(start), "todate": local(end - timedelta(seconds=1))}
    assert fetch_all(api, "draganddrop/emailings", list(window.items())) == sent
    masses = api("draganddrop/emailings", {"type": "individual", "limit": 1000}).json()["data"]
    assert masses and {m["type"] for m in masses} == {"individual"}


def test_destinations_and_consumption(api: Any, sandbox: SandboxServer) -> None:
    day = date(2026, 9, 15)
    start = datetime(2026, 9, 15, tzinfo=AMS)
    expected = sandbox.data.expected_ids("destinations", start, start + timedelta(days=1))
    got = fetch_all(api, "draganddrop/destinations", [("from", "2026-09-15"), ("to", "2026-09-15")])
    assert got == expected
    rows = api("consumption", {"begin": "2026-10-24", "end": "2026-10-26"}).json()["data"]
    assert [r["date"] for r in rows] == ["2026-10-24", "2026-10-25", "2026-10-26"]
    assert all("apicalls" in r for r in rows)
    truth = sandbox.data.expected_ids(
        "consumption", datetime(2026, 10, 24, tzinfo=AMS), datetime(2026, 10, 27, tzinfo=AMS)
    )
    assert truth == [r["date"] for r in rows]
    assert api("consumption").status_code == 400
    assert day.isoformat() in {r["date"] for r in sandbox.data.records("consumption")}


# -- auth -----------------------------------------------------------------------------------


def test_jwt_required_and_checked(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/v4/identity"
    assert requests.get(url, timeout=10).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    # like the live API: a bad token is a 400, not a 401
    assert bad.status_code == 400 and bad.json() == {"error": {"message": "Invalid access token"}}
    sandbox.faults.set("invalid_token:401")  # the v4 docs' answer, still possible
    bad = requests.get(url, headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"]["message"] == "invalid JWT"
    leaked = requests.get(url, params={"access_token": SANDBOX_ACCESS_TOKEN}, timeout=10)
    assert leaked.status_code == 401
    refused = requests.post(
        f"{sandbox.url}/authenticate", data={"access_token": "nope"}, timeout=10
    )
    assert refused.status_code == 401 and "nope" not in refused.text
    token = jwt_for(sandbox)
    assert token.count(".") == 2
    header = {"Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=header, timeout=10).status_code == 200
    post = requests.post(f"{sandbox.url}/v4/databases", headers=header, timeout=10)
    assert post.status_code == 405
    assert sandbox.stats.jwt_exchanges == 2 and sandbox.stats.api_calls == 6


def test_jwt_expires_after_ttl(sandbox: SandboxServer) -> None:
    sandbox.faults.set("jwt_ttl:1")
    token = jwt_for(sandbox)
    header = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{sandbox.url}/v4/identity", headers=header, timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while True:
        response = requests.get(f"{sandbox.url}/v4/identity", headers=header, timeout=10)
        if response.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Invalid access token"}}
    sandbox.faults.set("invalid_token:401")
    response = requests.get(f"{sandbox.url}/v4/identity", headers=header, timeout=10)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_registered_token_is_accepted(sandbox: SandboxServer) -> None:
    sandbox.register_token("tok-distinctive-1234567890")
    assert jwt_for(sandbox, "tok-distinctive-1234567890").count(".") == 2


def test_oauth_authorization_code_flow(sandbox: SandboxServer) -> None:
    redirect = "http://127.0.0.1:1/callback"
    authorize = requests.get(
        f"{sandbox.url}/authorize",
        params={
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": redirect,
            "state": "s" * 32,
            "response_type": "code",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert authorize.status_code == 302
    location = urlsplit(authorize.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["s" * 32]
    exchange = {
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "redirect_uri": redirect,
        "code": query["code"][0],
    }
    wrong = requests.get(
        f"{sandbox.url}/v4/token", params=exchange | {"client_secret": "x"}, timeout=10
    )
    assert wrong.status_code == 400
    wrong = requests.get(
        f"{sandbox.url}/v4/token",
        params=exchange | {"redirect_uri": "http://127.0.0.1:2/"},
        timeout=10,
    )
    assert wrong.status_code == 400
    token = requests.get(f"{sandbox.url}/v4/token", params=exchange, timeout=10)
    assert token.status_code == 200
    access_token = token.json()["access_token"]
    assert jwt_for(sandbox, access_token).count(".") == 2
    again = requests.get(f"{sandbox.url}/v4/token", params=exchange, timeout=10)
    assert again.status_code == 400 and "already used" in again.json()["error"]["message"]
    unknown = requests.get(
        f"{sandbox.url}/authorize",
        params={"client_id": "x", "redirect_uri": redirect, "state": "s", "response_type": "code"},
        allow_redirects=False,
        timeout=10,
    )
    assert unknown.status_code == 400


# -- faults ---------------------------------------------------------------------------------


def test_status_bursts_and_retry_after(api: Any, sandbox: SandboxServer) -> None:
    sandbox.faults.set("429:1:0.2", "503:2", "502:1", "504:1")
    first = api("identity")
    assert first.status_code == 429 and first.headers["Retry-After"] == "0.2"
    assert [api("identity").status_code for _ in range(5)] == [503, 503, 502, 504, 200]
    assert sandbox.stats.faults_fired["503"] == 2


def test_reset_truncate_timeout_and_401(api: Any, sandbox: SandboxServer) -> None:
    sandbox.faults.set("reset:1")
    with pytest.raises(requests.ConnectionError):
        api("identity")
    sandbox.faults.set("truncate:1")
    cut = api("databases")
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        json.loads(cut.text)
    sandbox.faults.set("timeout:1:0.3")
    assert api("identity").status_code == 200
    with pytest.raises(requests.Timeout):
        sandbox.faults.set("timeout:1:2")
        requests.get(
            f"{sandbox.url}/v4/identity",
            headers={"Authorization": f"Bearer {jwt_for(sandbox)}"},
            timeout=0.5,
        )
    sandbox.faults.reset()
    sandbox.faults.set("401:2")
    assert [api("identity").status_code for _ in range(3)] == [401, 401, 200]


def test_outage_after_and_latency(api: Any, sandbox: SandboxServer) -> None:
    sandbox.faults.set("outage_after:2", "latency:0.01")
    assert [api("identity").status_code for _ in range(4)] == [200, 200, 503, 503]
    sandbox.faults.reset()
    assert api("identity").status_code == 200


def test_auth_scoped_fault_and_bad_spec(sandbox: SandboxServer) -> None:
    sandbox.faults.set("auth:503:1")
    response = requests.post(
        f"{sandbox.url}/authenticate", data={"access_token": SANDBOX_ACCESS_TOKEN}, timeout=10
    )
    assert response.status_code == 503
    assert jwt_for(sandbox)
    with pytest.raises(ValueError, match="valid specs"):
        sandbox.faults.set("418:1")


def test_admin_endpoints(api: Any, sandbox: SandboxServer) -> None:
    posted = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": ["503:1"]}, timeout=10)
    assert posted.json() == {"faults": ["503:1"]}
    assert api("identity").status_code == 503
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert stats["api_calls"] == 1 and stats["paths"]["/v4/identity"] == 1
    bad = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": ["nope"]}, timeout=10)
    assert bad.status_code == 400
    sandbox.faults.set("503:5")
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=10).json() == {"reset": True}
    assert api("identity").status_code == 200


def test_churn_mutations_and_keyset_result(fresh_sandbox: SandboxServer) -> None:
    server = fresh_sandbox
    before = server.data.expected_ids("profiles", "2000-01-01", "2100-01-01", database_id=7617)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {jwt_for(server)}"
    url = f"{server.url}/v4/database/7617/profiles"  # a small database: 150 profiles
    server.faults.set("churn")
    keyset: list[int] = []
    last = 0
    while True:
        params = {"fields[]": f"id>{last}", "limit": 20, "total": "false"}
        batch = [int(r["ID"]) for r in session.get(url, params=params, timeout=10).json()["data"]]
        keyset += batch
        if len(batch) < 20:
            break
        last = batch[-1]
    churns = [m for m in server.data.mutations if m["op"] == "churn"]
    assert len(churns) == len(before) // 20  # one per full page; the last page has no "next"
    deleted = {m["deleted"] for m in churns}
    inserted = {m["inserted"] for m in churns}
    assert all(m["inserted"] > max(before) for m in churns)
    truth = server.data.expected_ids("profiles", "2000-01-01", "2100-01-01", database_id=7617)
    assert truth == sorted((set(before) | inserted) - deleted)  # a copy may be churned too
    assert keyset == truth  # keyset paging sees the appended copies and skips the deleted
    assert not deleted & set(keyset)


def test_churn_on_an_event_listing_removes_a_read_event_and_adds_a_new_one(
    fresh_sandbox: SandboxServer,
) -> None:
    server = fresh_sandbox
    end = datetime.combine(server.data.anchor, datetime.min.time(), tzinfo=UTC)
    start = end - timedelta(days=30)
    before = server.data.expected_ids("clicks", start, end, product="draganddrop")
    assert len(before) > 60
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {jwt_for(server)}"
    url = f"{server.url}/v4/draganddrop/clicks"
    window = {"begintime": local(start), "endtime": local(end - timedelta(seconds=1))}
    server.faults.set("churn")
    first, second = (
        [int(r["ID"]) for r in session.get(url, params=window | page, timeout=10).json()["data"]]
        for page in ({"start": 0, "limit": 30}, {"start": 30, "limit": 30})
    )
    deadline = time.monotonic() + 5  # the mutation runs once a page is sent
    while len(churns := [m for m in server.data.mutations if m["op"] == "event_churn"]) < 2:
        assert time.monotonic() < deadline, churns
        time.sleep(0.01)
    assert len(churns) == 2  # one per page served
    assert churns[0]["deleted"] == first[0]  # an event already read went
    assert churns[0]["inserted"] > max(before)  # a new one arrived, inside the window
    # offset paging over it: everything after the removed event moved forward by one, so
    # the second page begins one event later and the event at offset 30 is never listed
    assert first == before[:30]
    assert second == before[31:61]
    after = server.data.expected_ids("clicks", start, end, product="draganddrop")
    assert churns[0]["inserted"] in after and first[0] not in after


def test_data_after_and_add_records(api: Any, sandbox: SandboxServer) -> None:
    data = sandbox.data
    end = datetime.combine(data.anchor, datetime.min.time(), tzinfo=UTC)
    start = end - timedelta(days=1)
    expected = data.expected_ids("clicks", start, end)
    assert expected
    params = {"begintime": local(start), "endtime": local(end - timedelta(seconds=1))}
    sandbox.faults.set("data_after:0.6")
    assert api("draganddrop/clicks", params).json()["total"] == 0
    deadline = time.monotonic() + 10
    while api("draganddrop/clicks", params).json()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ids_of(api("draganddrop/clicks", params)) == expected

    future = end + timedelta(days=3, hours=5)
    new_ids = data.add_records("impressions", [future, future], product="html")
    later = [("fields[]", f"timestamp>={local(future)}")]
    assert ids_of(api("html/impressions", later)) == new_ids
    assert (
        data.expected_ids("impressions", future, future + timedelta(seconds=1), product="html")
        == new_ids
    )


def test_reset_restores_data(sandbox: SandboxServer) -> None:
    before = sandbox.data.expected_ids("clicks", "2000-01-01", "2100-01-01")
    sandbox.data.delete_record("clicks", before[0])
    assert sandbox.data.expected_ids("clicks", "2000-01-01", "2100-01-01") == before[1:]
    sandbox.reset()
    assert sandbox.data.expected_ids("clicks", "2000-01-01", "2100-01-01") == before


# -- data -----------------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data() -> None:
    anchor = date(2026, 11, 20)
    one, two = SandboxData(40, 3, anchor), SandboxData(40, 3, anchor)
    other = SandboxData(40, 4, anchor)
    for dataset in ("profiles", "clicks", "emailings", "destinations"):
        assert one.records(dataset) == two.records(dataset)
    assert one.records("profiles") != other.records("profiles")
    assert one.consumption == two.consumption


def test_dst_and_midnight_records(sandbox: SandboxServer) -> None:
    data = sandbox.data
    autumn = [t for t, kind in data.dst_changes if kind == "autumn"]
    spring = [t for t, kind in data.dst_changes if kind == "spring"]
    assert autumn and spring, "both DST changes lie inside the data span"
    change = datetime.fromtimestamp(autumn[0], UTC)
    assert change == datetime(2026, 10, 25, 1, tzinfo=UTC)
    for dataset, options in [("profiles", {}), ("subprofiles", {}), ("emailings", {})] + [
        (kind, {"product": p})
        for kind in ("deliveries", "impressions", "clicks", "errors", "unsubscribes", "abuses")
        for p in ("draganddrop", "html")
    ]:
        times = data.record_times(dataset, **options)
        folds = {
            "first": [i for i, t in times.items() if change - timedelta(hours=1) <= t < change],
            "second": [i for i, t in times.items() if change <= t < change + timedelta(hours=1)],
        }
        assert folds["first"] and folds["second"], (dataset, options)
        rendered = {
            r.get("ID", r.get("id")): r.get("timestamp", r.get("modified"))
            for r in data.records(dataset, **options)
        }
        for ident in folds["first"] + folds["second"]:
            assert rendered[str(ident)].startswith("2026-10-25 02:")
        assert set(data.ambiguous_ids(dataset, **options)) == set(folds["first"] + folds["second"])
        midnights = [t for t in times.values() if t.astimezone(AMS).time() == datetime.min.time()]
        assert midnights, dataset
        gap_day = [
            s
            for s in rendered.values()
            if s.startswith(datetime.fromtimestamp(spring[0], UTC).date().isoformat())
        ]
        assert not [s for s in gap_day if s[11:13] == "02"], "nothing in the spring-forward gap"


def test_profile_counts_scale_and_span(sandbox: SandboxServer) -> None:
    data = sandbox.data
    listed = data.records("profiles", database_id=7616)
    assert len(listed) + len(data.removed_ids("profiles", database_id=7616)) == 3000
    times = data.record_times("clicks")
    assert max(times.values()) < datetime(2026, 11, 20, tzinfo=UTC)
    assert min(times.values()) > datetime(2026, 3, 1, tzinfo=UTC)
    last_week = data.expected_ids(
        "clicks", datetime(2026, 11, 13, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    )
    assert last_week


def test_events_option_scales_the_clicks_and_keeps_the_rest() -> None:
    everything = ("2000-01-01", "2100-01-01")
    plain = SandboxData(profiles=300, seed=7, anchor=date(2026, 11, 20))
    with SandboxServer(profiles=300, seed=7, anchor=date(2026, 11, 20), events=8000) as server:
        data = server.data
        for product in ("draganddrop", "html"):
            natural = plain.expected_ids("clicks", *everything, product=product)
            scaled = data.expected_ids("clicks", *everything, product=product)
            assert len(natural) < 3000
            assert 7800 <= len(scaled) <= 8000  # repeats past the end of the span are dropped
            for kind in ("deliveries", "impressions"):
                assert data.expected_ids(kind, *everything, product=product) == (
                    plain.expected_ids(kind, *everything, product=product)
                )
        assert data.expected_ids("profiles", *everything) == plain.expected_ids(
            "profiles", *everything
        )
        # over HTTP, offset paging returns exactly the scaled ground truth
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {jwt_for(server)}"
        found: list[int] = []
        while True:
            page = session.get(
                f"{server.url}/v4/draganddrop/clicks",
                params={"start": len(found), "limit": 1000},
                timeout=10,
            ).json()
            found += [int(r["ID"]) for r in page["data"]]
            if len(found) >= page["total"]:
                break
        session.close()
        assert sorted(found) == sorted(
            data.expected_ids("clicks", *everything, product="draganddrop")
        )
    with pytest.raises(ValueError, match="events must be at least 1"):
        SandboxData(profiles=300, events=0)


# -- CLI ------------------------------------------------------------------------------------


def test_cli_serves_until_sigterm(tmp_path: Any) -> None:
    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_copernica.cli.arguments",
            "sandbox",
            "--port",
            "0",
            "--profiles",
            "50",
            "--seed",
            "3",
            "--anchor",
            "2026-11-20",
            "--fault",
            "503:1",
            "--events",
            "2000",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        # Airflow may log a configuration notice first (a fresh AIRFLOW_HOME): skip to the URL.
        lines = iter(proc.stdout.readline, "")
        first = next(line for line in lines if "http://127.0.0.1:" in line)
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        proc.stdout.readline()
        conn_line = proc.stdout.readline().strip()
        assert conn_line.startswith("AIRFLOW_CONN_COPERNICA_DEFAULT=")
        conn = json.loads(conn_line.split("=", 1)[1].strip("'"))
        assert conn["host"] == url and conn["extra"]["auth_url"] == f"{url}/authenticate"
        token = requests.post(
            conn["extra"]["auth_url"], data={"access_token": conn["password"]}, timeout=10
        ).text
        header = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{url}/v4/identity", headers=header, timeout=10).status_code == 503
        assert requests.get(f"{url}/v4/identity", headers=header, timeout=10).status_code == 200
        clicks = requests.get(
            f"{url}/v4/draganddrop/clicks", params={"limit": 1}, headers=header, timeout=10
        ).json()
        assert 1900 <= clicks["total"] <= 2000  # --events 2000: about 2000 clicks
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the live API's observed behaviour (COPERNICA_API.md, "Observed on the live API") -------


def test_storm_answers_loadbalancer_html_for_its_duration(
    api: Any, sandbox: SandboxServer, mocker: Any
) -> None:
    from tests.fake_clock import FakeClock

    clock = FakeClock.install(mocker, sandbox)
    sandbox.faults.set("storm:180")
    answers = []
    for n in range(6):  # 0, 30, ... 150 s into the storm
        clock.sleep(30 if n else 0)
        answers.append(api("identity"))
    assert [r.status_code for r in answers] == [503, 503, 504, 503, 503, 504]
    for response in answers:
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Loadbalancer Error" in response.text and "Retry-After" not in response.headers
    clock.sleep(29.9)
    assert sandbox.faults.storming()
    clock.sleep(0.1)  # 180 s: over
    assert api("identity").status_code == 200 and not sandbox.faults.storming()
    assert sandbox.stats.faults_fired["storm"] == 6


def test_reject_jwt_and_invalid_token_status(api: Any, sandbox: SandboxServer) -> None:
    sandbox.faults.set("reject_jwt:2")
    refused = [api("identity") for _ in range(3)]
    assert [r.status_code for r in refused] == [400, 400, 200]
    assert refused[0].json() == {"error": {"message": "Invalid access token"}}
    sandbox.faults.set("invalid_token:401", "reject_jwt:1")
    assert api("identity").status_code == 401
    sandbox.faults.reset()  # back to the live API's 400
    bad = requests.get(
        f"{sandbox.url}/v4/identity", headers={"Authorization": "Bearer x.y.z"}, timeout=10
    )
    assert bad.status_code == 400
    with pytest.raises(ValueError, match="400, 401, 403"):
        sandbox.faults.set("invalid_token:500")


def test_fields_conditions_the_live_api_ignores(api: Any, sandbox: SandboxServer) -> None:
    everything = fetch_all(api, "database/7616/profiles", [])
    city = "Utrecht"
    truth = [
        int(r["ID"])
        for r in sandbox.data.records("profiles", database_id=7616)
        if r["fields"].get("city") == city
    ]
    assert 0 < len(truth) < len(everything)
    # field names and text values match case-insensitively
    for condition in ("city==Utrecht", "CITY==utrecht", "City==UTRECHT"):
        assert fetch_all(api, "database/7616/profiles", [("fields[]", condition)]) == truth
    # ignored without an error: unfiltered data comes back
    for params in (
        [("fields[]", "city ==Utrecht")],  # a space between field and operator
        [("fields[]", "nocity==Utrecht")],  # an unknown field
        [("fields[]", "city")],  # no operator
        [("fields[]", "modified>=yesterday")],  # a value that does not parse
        [("fields", "city==Utrecht")],  # fields= instead of fields[]=
    ):
        assert fetch_all(api, "database/7616/profiles", params) == everything, params
    page = api("database/7616/profiles", {"fields[]": "city ==Utrecht", "limit": 1}).json()
    assert page["total"] == len(everything)
    # honoured conditions still combine with ignored ones (ANDed)
    both = [("fields[]", "city==Utrecht"), ("fields[]", "nocity==x")]
    assert fetch_all(api, "database/7616/profiles", both) == truth


def test_modified_field_replaces_the_property_in_filters(api: Any, sandbox: SandboxServer) -> None:
    table = sandbox.data.profile_table(7616)
    names = [f["name"] for f in api("database/7616/fields").json()["data"]]
    assert "modified" not in names
    bound = "2026-10-01 00:00:00"
    by_property = fetch_all(api, "database/7616/profiles", [("fields[]", f"modified>={bound}")])
    assert by_property == [
        int(r["ID"])
        for r in sandbox.data.records("profiles", database_id=7616)
        if r["modified"] >= bound
    ]

    sandbox.faults.set("modified_field")
    fields = api("database/7616/fields").json()["data"]
    assert [f["type"] for f in fields if f["name"] == "modified"] == ["datetime"]
    assert "modified" in [f["name"] for f in api("collection/6312/fields").json()["data"]]
    records = sandbox.data.records("profiles", database_id=7616)
    by_field = [int(r["ID"]) for r in records if r["fields"].get("modified", "") >= bound]
    assert by_field != by_property
    for name in ("modified", "MODIFIED"):
        params = [("fields[]", f"{name}>={bound}")]
        assert fetch_all(api, "database/7616/profiles", params) == by_field
    # orderby=modified still orders by the property
    ordered = api("database/7616/profiles", {"orderby": "modified", "limit": 50}).json()["data"]
    stamps = [r["modified"] for r in ordered]
    assert stamps == sorted(stamps) and stamps[0] == min(r["modified"] for r in records)
    sandbox.faults.set("modified_field:Modified")  # any case: names match case-insensitively
    names = [f["name"] for f in api("database/7616/fields").json()["data"]]
    assert names.count("Modified") == 1 and "modified" not in names
    params = [("fields[]", f"modified>={bound}")]
    assert fetch_all(api, "database/7616/profiles", params) == by_field
    sandbox.reset()
    assert "Modified" not in [f["name"] for f in api("database/7616/fields").json()["data"]]
    assert not {"modified", "Modified"} & set(table.field_types)
    assert fetch_all(api, "database/7616/profiles", params) == by_property


def test_seeded_empty_dates(sandbox: SandboxServer) -> None:
    profiles = sandbox.data.records("profiles", database_id=7616)
    births = [r["fields"]["birthdate"] for r in profiles]
    assert 0 < births.count("0000-00-00") < len(births) // 8
    tickets = sandbox.data.records("subprofiles", collection_id=6313)
    closed = {r["fields"]["status"]: r["fields"]["closed"] for r in tickets}
    assert closed["open"] == closed["pending"] == "0000-00-00 00:00:00"
    assert closed["closed"][:2] == "20"
    fields = sandbox.data.collection_meta[6313]["fields"]["data"]
    assert {"name": "closed", "type": "datetime"}.items() <= fields[-1].items()

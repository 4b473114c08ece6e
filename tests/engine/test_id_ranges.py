"""Id-range partitions: the split covers every id once, and each range pages exactly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sandbox_requests import PROFILES, calls_to, profile_ids

from airflow_provider_copernica.engine.id_ranges import IdRange, probe_id_sample, split_id_range
from airflow_provider_copernica.engine.paging import iter_pages
from airflow_provider_copernica.exceptions import CopernicaConfigError


def test_split_is_contiguous_and_open_ended() -> None:
    ranges = split_id_range(1000, 4)
    assert [r.as_dict() for r in ranges] == [
        {"after": 0, "upto": 250},
        {"after": 250, "upto": 500},
        {"after": 500, "upto": 750},
        {"after": 750, "upto": None},
    ]
    assert ranges[0].conditions() == ("id<=250",)
    assert ranges[-1].conditions() == ("id>750",)
    assert [r.as_dict() for r in split_id_range(2, 8)] == [
        {"after": 0, "upto": 1},
        {"after": 1, "upto": None},
    ]
    assert split_id_range(0, 3) == [IdRange(0, None)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"after": 5, "upto": 2}, "need 0 <= after <= upto"),
        ({"after": 1, "until": 2}, "unknown keys ['until']; valid keys: after, upto"),
        ({"after": "x"}, "after must be a whole number"),
        ("1-2", "must be {'after': N, 'upto': M} or (N, M)"),
    ],
)
def test_bad_ranges_are_refused(value: Any, message: str) -> None:
    with pytest.raises(CopernicaConfigError, match=re.escape(message)):
        IdRange.from_value(value)


def test_partitions_page_exactly_and_probe_is_one_call(hook: Any, sandbox: Any) -> None:
    expected = profile_ids(sandbox)
    before = len(calls_to(sandbox, PROFILES))
    probe = probe_id_sample(hook, PROFILES, (), 1)
    max_id, total = probe.max_id, probe.total
    assert len(calls_to(sandbox, PROFILES)) == before + 1
    assert (max_id, total) == (max(expected), len(expected))
    seen: list[int] = []
    for part in split_id_range(max_id, 3):
        params = [("fields[]", c) for c in part.conditions()]
        for page in iter_pages(hook, PROFILES, params, paging="keyset"):
            ids = [int(r["ID"]) for r in page]
            assert all(part.contains(i) for i in ids)
            seen += ids
    assert seen == expected

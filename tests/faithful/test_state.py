"""The faithful copy's state files go through the output's Storage layer, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_provider_copernica.faithful.state import StateStore
from airflow_provider_copernica.output.writers import LocalStorage


def test_a_state_file_is_committed_through_the_storage_layer(tmp_path: Path, mocker: Any) -> None:
    commit = mocker.spy(LocalStorage, "commit")
    store = StateStore(str(tmp_path / "_copernica_state"))
    store.write_json({"b": 1, "a": [2]}, "profiles", "database_id=7616", "w.json")
    assert commit.call_count == 1  # the writers' atomic commit: fsync, os.replace, fsync dir
    written = tmp_path / "_copernica_state/profiles/database_id=7616/w.json"
    assert written.read_text() == json.dumps({"a": [2], "b": 1}, indent=1, sort_keys=True)
    assert store.read_json("profiles", "database_id=7616", "w.json") == {"a": [2], "b": 1}
    assert [p.name for p in written.parent.iterdir()] == ["w.json"]  # no temporary left

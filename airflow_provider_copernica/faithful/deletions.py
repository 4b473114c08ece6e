"""Deletions: ids in the previous run's id snapshot and absent from this run's.

Copernica drops a removed (sub)profile from every list and leaves its ``modified`` as it was,
so no interval of ``profiles`` ever shows a deletion. A deletions dataset
(``Dataset.deletions_of``) takes an id snapshot each run (``profileids`` /
``subprofileids``, exact under churn: ``paging.IdArrayPaginator``), keeps it in the state
directory beside the output, and compares it with the snapshot of the latest earlier interval:

``<state_uri>/<ids dataset>/<option>=<value>/<interval label>.jsonl``  the ids, ascending
``<state_uri>/<ids dataset>/<option>=<value>/<interval label>.json``   its manifest (when it
was taken, how many ids); written last, so a snapshot without one does not count.

- **Idempotent:** a run whose interval already has a snapshot re-reads it instead of asking
  the API again, so a re-run (even after later runs) writes the same file.
- **First run:** nothing to compare with: an empty file, and the snapshot is the baseline.
- **Backfill of a past interval** (a later interval already has a snapshot): a deletion can
  only be observed forward in time, so the file is empty, a warning says why, and no
  snapshot is kept for it.
Both sides are streamed in id order (a merge), so memory does not grow with the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.interval import Window, iso_utc

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.engine.extract import Extraction, Log
    from airflow_provider_copernica.faithful.state import StateStore

PAGE_ROWS = 1000
_ID_COLUMNS = [Column("id", "int")]


@dataclass(frozen=True)
class IdSnapshot:
    """One committed id snapshot (its manifest)."""

    start: datetime
    end: datetime
    observed_at: datetime
    ids: int
    name: str

    @property
    def label(self) -> str:
        return Window(self.start, self.end).label


def refuse_outside_operator(entry: Dataset, what: str) -> None:
    """A deletions dataset is a comparison of the operator's stored id snapshots: a preview
    or a sensor would only see the live ids, so they are refused, naming what to use."""
    if entry.deletions_of is not None:
        raise CopernicaConfigError(
            f"{what} cannot use {entry.name!r}: its rows are the ids absent since the "
            "previous run's id snapshot, which only CopernicaToStorageOperator keeps (in "
            f"its state_uri). Use {entry.deletions_of!r} for the ids as of now."
        )


def snapshot_folder(extraction: Extraction) -> tuple[str, ...]:
    """``(<ids dataset>, <option>=<value>, ...)``: where a deletions dataset's snapshots live."""
    entry = extraction.dataset
    assert entry.deletions_of is not None
    options = [f"{name}={extraction.options[name]}" for name in entry.required_options]
    return (entry.deletions_of, *options)


def list_snapshots(store: StateStore, folder: tuple[str, ...]) -> list[IdSnapshot]:
    found = []
    for name in store.names(*folder):
        if not name.endswith(".json"):
            continue
        manifest = store.read_json(*folder, name)
        found.append(
            IdSnapshot(
                start=datetime.fromisoformat(manifest["interval_start"]),
                end=datetime.fromisoformat(manifest["interval_end"]),
                observed_at=datetime.fromisoformat(manifest["observed_at"]),
                ids=int(manifest["ids"]),
                name=name[: -len(".json")],
            )
        )
    return sorted(found, key=lambda s: (s.end, s.start))


def _stored_ids(store: StateStore, folder: tuple[str, ...], snapshot: IdSnapshot) -> Iterator[int]:
    with store.path(*folder, f"{snapshot.name}.jsonl").open("r") as lines:
        for line in lines:
            if line.strip():
                yield int(json.loads(line)["id"])


def _ascending(ids: Iterator[int], what: str) -> Iterator[int]:
    last = None
    for ident in ids:
        if last is not None and ident <= last:
            raise CopernicaAPIError(f"{what}: ids are not in ascending order ({last}, {ident})")
        last = ident
        yield ident


def missing(previous: Iterator[int], current: Iterator[int]) -> Iterator[int]:
    """Ids of ``previous`` absent from ``current`` (both ascending), streamed."""
    gone = next(previous, None)
    for ident in current:
        while gone is not None and gone < ident:
            yield gone
            gone = next(previous, None)
        if gone == ident:
            gone = next(previous, None)
    while gone is not None:
        yield gone
        gone = next(previous, None)


def deletion_pages(
    extraction: Extraction, store: StateStore, log: Log | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of deletion rows for the extraction's interval (see the module docstring)."""
    log = log or logging.getLogger(__name__)
    window = extraction.meta_window
    name = extraction.dataset.name
    if window is None:
        raise CopernicaConfigError(
            f"Dataset {name!r} compares the id snapshots of consecutive data intervals: run it "
            "with a data interval (a scheduled run, a backfill, or date_from/date_to)"
        )
    folder = snapshot_folder(extraction)
    snapshots = list_snapshots(store, folder)
    mine = next((s for s in snapshots if s.label == window.label), None)
    earlier = [s for s in snapshots if s.end <= window.start]
    previous = earlier[-1] if earlier else None
    later = [s for s in snapshots if s.start >= window.end]
    where = store.uri_of(*folder)

    if mine is None and later:
        log.warning(
            "%s: interval %s is before an interval already observed (%s); a deletion can only "
            "be observed forward in time, so this backfilled interval gets an empty file and "
            "no id snapshot (state: %s). The deletions since then are in the files of the "
            "observed intervals (their observed_at says when); to observe from scratch, "
            "delete that state directory and run the intervals in order",
            name,
            window,
            later[0].label,
            where,
        )
        return
    if mine is not None:
        log.info(
            "%s: re-using this interval's id snapshot (%d ids, taken %s) from %s",
            name,
            mine.ids,
            mine.observed_at.isoformat(),
            where,
        )
        current = _stored_ids(store, folder, mine)
    else:
        current = _take_snapshot(extraction, store, folder, window)
    if previous is None:
        for _ in current:  # the baseline: walked (and stored) only
            pass
        log.warning(
            "%s: no id snapshot of an earlier interval in %s: this first run has nothing to "
            "compare with, so its file is empty; its id snapshot is the baseline of the next run",
            name,
            where,
        )
        return
    log.info(
        "%s: comparing with the id snapshot of %s (%d ids, taken %s)",
        name,
        previous.label,
        previous.ids,
        previous.observed_at.isoformat(),
    )
    # The deletions are few next to the ids; they are held until the walk has finished,
    # because their observed_at is the time the walk completed.
    deleted = list(missing(_stored_ids(store, folder, previous), _ascending(current, name)))
    if mine is None:  # the snapshot just taken: its manifest says when it was complete
        mine = next(s for s in list_snapshots(store, folder) if s.label == window.label)
    observed_at = mine.observed_at
    base = {
        "observed_at": iso_utc(observed_at),
        "last_seen_at": iso_utc(previous.observed_at),
        "interval_start": iso_utc(window.start),
        "interval_end": iso_utc(window.end),
        **extraction.metadata_values(),
    }
    for start in range(0, len(deleted), PAGE_ROWS):
        yield [{"id": ident, **base} for ident in deleted[start : start + PAGE_ROWS]]
    log.info("%s: %d deletions since %s", name, len(deleted), previous.observed_at.isoformat())


def _take_snapshot(
    extraction: Extraction,
    store: StateStore,
    folder: tuple[str, ...],
    window: Window,
) -> Iterator[int]:
    """Walk the live ids (the engine's pages), store them, commit the manifest last."""
    from airflow_provider_copernica.output.writers import open_writer

    label = window.label
    uri = store.uri_of(*folder, f"{label}.jsonl")
    with open_writer(uri, "jsonl", _ID_COLUMNS, conn_id=store.conn_id) as writer:
        for rows in extraction.pages():
            ids = [row["id"] for row in rows]
            writer.write([{"id": ident} for ident in ids])
            yield from ids
        writer.commit()
    observed_at = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = {
        "dataset": extraction.dataset.deletions_of,
        "options": dict(extraction.options),
        "interval_start": window.start.isoformat(),
        "interval_end": window.end.isoformat(),
        "observed_at": observed_at.isoformat(),
        "ids": writer.rows_written,
        "ids_file": f"{label}.jsonl",
    }
    store.write_json(manifest, *folder, f"{label}.json")


__all__ = [
    "IdSnapshot",
    "deletion_pages",
    "list_snapshots",
    "missing",
    "refuse_outside_operator",
]

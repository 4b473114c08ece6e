"""Seeded, deterministic Copernica data for the sandbox, and the ground truth tests check against.

:class:`SandboxData` generates everything from ``(profiles, seed, anchor)``: the same inputs
always give the same records. The data spans roughly the seven months before ``anchor``
(00:00 UTC of the anchor date is the exclusive end), stretched so that the most recent spring
and autumn Europe/Amsterdam DST changes are inside. Records are deliberately placed on local
midnights, on both sides of the spring-forward gap (never inside it), and in the repeated
hour 02:00-03:00 of the autumn change, where two different instants render the same naive
local string.

The records live in the domain modules: ``people`` (databases, collections, profiles,
subprofiles), ``emailings`` and ``events`` (emailings, destinations, events),
``statistics``, ``selections`` (views, miniviews), ``content`` (templates, documents,
scheduled emailings, coupons) and ``account`` (identity, consumption); changes after
seeding in ``changes``. :class:`SandboxData` composes them and answers the ground truth
by dataset name.

Dataset names and options follow the provider's catalog (DESIGN.md): ``databases``,
``database_fields`` (database_id), ``collections`` (database_id), ``profiles`` (database_id),
``subprofiles`` (collection_id), ``emailings``, ``emailing_statistics``, ``deliveries``,
``impressions``, ``clicks``, ``errors``, ``unsubscribes``, ``abuses``, ``destinations``
(product: ``draganddrop`` default, or ``html``; ``ms``/``publisher`` accepted) and
``consumption``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_copernica.sandbox.account import consumption, consumption_dates
from airflow_provider_copernica.sandbox.changes import Changes
from airflow_provider_copernica.sandbox.content import Content
from airflow_provider_copernica.sandbox.emailings import Emailings
from airflow_provider_copernica.sandbox.events import EVENT_KINDS
from airflow_provider_copernica.sandbox.people import SNAPSHOT_DATASETS, People, PersonTable
from airflow_provider_copernica.sandbox.protocol import normalise_product
from airflow_provider_copernica.sandbox.selections import Selections
from airflow_provider_copernica.sandbox.snapshots import DATASETS as FAITHFUL_DATASETS
from airflow_provider_copernica.sandbox.snapshots import expected_ids as faithful_ids
from airflow_provider_copernica.sandbox.statistics import Statistics
from airflow_provider_copernica.sandbox.tables import Table
from airflow_provider_copernica.sandbox.timeutil import (
    DAY,
    TZ,
    local_midnight,
    to_datetime,
    transitions,
    utc_epoch,
)

DATASETS = (
    *SNAPSHOT_DATASETS[:3],
    "profiles",
    "subprofiles",
    "emailings",
    "emailing_statistics",
    "emailing_lifetime_statistics",
    *EVENT_KINDS,
    "destinations",
    "consumption",
)


class SandboxData:
    """The sandbox's records and the ground truth computed from their true UTC instants.

    ``SandboxData(profiles=3000, seed=7, anchor=None, events=None)``; ``anchor`` (a date,
    default today's UTC date) is the exclusive end of the data span. ``events=N`` scales the
    event data for load tests: about N clicks per product (repeat clicks of engaged
    recipients, up to 3 hours after one of theirs; the other event kinds keep their natural
    volume, so a large N stays cheap); ``None`` keeps the natural volume, which hardly grows
    with ``profiles`` (about 2,000 clicks per product at 3,000 profiles, 4,000 at 100,000).
    ``emailings=N`` gives an account with a long history instead of the natural schedule: N
    emailings per product over the three years before the anchor, to 10-30 recipients each
    (``Emailings.history_times``; the cost benchmarks of ``emailing_statistics``).
    Thread-safe: the server holds ``lock`` while reading, and every mutation takes it too.
    """

    def __init__(
        self,
        profiles: int = 3000,
        seed: int = 7,
        anchor: date | None = None,
        events: int | None = None,
        emailings: int | None = None,
    ) -> None:
        if profiles < 1:
            raise ValueError("profiles must be at least 1")
        if events is not None and events < 1:
            raise ValueError("events must be at least 1 (or None for the natural volume)")
        self.profile_count = profiles
        self.click_target = events
        if emailings is not None and emailings < 1:
            raise ValueError("emailings must be at least 1 (or None for the natural schedule)")
        self.history_emailings = emailings
        self.seed = seed
        self.anchor = anchor or datetime.now(timezone.utc).date()
        self.lock = threading.RLock()
        self._generate()

    # -- generation ----------------------------------------------------------------------

    def _generate(self) -> None:
        end = utc_epoch(self.anchor)
        start = end - 214 * DAY
        year_back = transitions(end - 370 * DAY, end)
        for kind in ("spring", "autumn"):
            latest = [t for t, k in year_back if k == kind]
            if latest:
                start = min(start, latest[-1] - 3 * DAY)
        self.span_start, self.span_end = start, end
        self.dst_changes = transitions(start, end)
        self.special_instants = self._special_instants()
        rng = random.Random(f"copernica-sandbox:{self.seed}")
        span = (start, end)
        self.people = People(
            rng,
            seed=self.seed,
            profiles=self.profile_count,
            span=span,
            special=self.special_instants,
        )
        self.mailings = Emailings(
            self.people,
            seed=self.seed,
            profiles=self.profile_count,
            span=span,
            dst_changes=self.dst_changes,
            special=self.special_instants,
            history=self.history_emailings,
            clicks=self.click_target,
        )
        self.consumption = consumption(rng, self.mailings, span)
        self.selections = Selections(self.people, span_end=end, dst_changes=self.dst_changes)
        self.content = Content(span=span, dst_changes=self.dst_changes)
        self.statistics = Statistics(self.mailings, self.content)
        self.changes = Changes(self.people, self.mailings)
        # the tables by name, as the tests and the server read them
        self.databases = self.people.databases
        self.collection_meta = self.people.collection_meta
        self.profile_table = self.people.profile_table
        self.subprofile_table = self.people.subprofile_table
        self.database = self.people.database
        self.emailings = self.mailings.emailings
        self.destinations = self.mailings.destinations
        self.events = self.mailings.events
        for table in self.all_tables():
            table.checkpoint()

    def _special_instants(self) -> list[int]:
        """Local midnights, both sides of each spring gap, and the repeated autumn hour."""
        special = []
        first_day = (to_datetime(self.span_start) + timedelta(days=2)).date()
        for offset in (0, 30, 61, 95, 130, 170):
            day = first_day + timedelta(days=offset)
            if local_midnight(day) < self.span_end - DAY:
                special.append(local_midnight(day))
        for moment, kind in self.dst_changes:
            special.append(local_midnight(to_datetime(moment).astimezone(TZ).date()))
            if kind == "spring":
                special += [moment - 1, moment]  # 01:59:59 and 03:00:00 local
            else:
                # 02:00:00 / 02:30:00 / 02:59:59 local, each once per fold
                special += [moment - 3600, moment - 1800, moment - 1]
                special += [moment, moment + 1800, moment + 3599]
        return sorted(s for s in special if self.span_start <= s < self.span_end)

    def all_tables(self) -> list[Table]:
        return [*self.people.tables(), *self.mailings.tables()]

    @property
    def mutations(self) -> list[dict[str, Any]]:
        """Every change since seeding or the last reset (``Changes.log``)."""
        return self.changes.log

    def hidden(self) -> int | None:
        """The ``data_after`` cut-off while it is active, else None."""
        return self.changes.hidden()

    # -- ground truth ----------------------------------------------------------------------

    def table(self, dataset: str, **options: Any) -> Table:
        """The table behind a windowed dataset (profiles, subprofiles, emailings, events,
        destinations). Options: ``database_id`` (default 7616), ``collection_id`` (default
        6312), ``product`` (default draganddrop)."""
        table: Table | None
        if dataset == "profiles":
            table = self.people.profile_table(options.get("database_id", 7616))
        elif dataset == "subprofiles":
            table = self.people.subprofile_table(options.get("collection_id", 6312))
        elif dataset in ("emailings", "emailing_statistics", "emailing_lifetime_statistics"):
            table = self.emailings[normalise_product(options.get("product"))]
        elif dataset == "destinations":
            table = self.destinations[normalise_product(options.get("product"))]
        elif dataset in EVENT_KINDS:
            table = self.events[(normalise_product(options.get("product")), dataset)]
        else:
            raise ValueError(f"unknown or unwindowed dataset {dataset!r}; datasets: {DATASETS}")
        if table is None:
            raise ValueError(f"no such database/collection in {options!r}")
        return table

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]]:
        """Every current record of a dataset as the API renders it (all time, by id)."""
        with self.lock:
            if dataset == "consumption":
                return list(self.consumption)
            for part in (self.people, self.selections, self.content, self.statistics):
                found = part.records(dataset, **options)
                if found is not None:
                    return found
            table = self.table(dataset, **options)
            return [table.render(i) for i in table.alive()]

    def record_times(self, dataset: str, **options: Any) -> dict[int | str, datetime]:
        """Record id -> the true aware-UTC instant that selects it into an interval."""
        with self.lock:
            table = self.table(dataset, **options)
            return {table.ids[i]: to_datetime(table.ts[i]) for i in table.alive()}

    def expected_ids(
        self, dataset: str, start: datetime | date | str, end: datetime | date | str, **options: Any
    ) -> list[Any]:
        """Ids a correct extraction of ``dataset`` for ``[start, end)`` (UTC) returns, ascending.

        Computed from the true UTC instants, independently of the provider's code. Snapshot
        datasets (``databases``, ``database_fields``, ``collections``) ignore the window.
        ``emailing_statistics``: emailings with at least one event in the window.
        ``consumption``: the ``date`` strings of the local (Europe/Amsterdam) days from the
        local date of ``start`` (inclusive) to the local date of ``end`` (exclusive).
        Records in the repeated autumn hour are included by their true instant; their naive
        local timestamp alone cannot tell the folds apart (see :meth:`ambiguous_ids`).
        The faithful-copy datasets (snapshots, id lists, deletions; where ``start``/``end``
        are wall-clock instants of two observations): see ``snapshots.expected_ids``.
        """
        if dataset in FAITHFUL_DATASETS:  # snapshots, id lists, deletions
            return faithful_ids(self, dataset, start, end, **options)
        lo, hi = utc_epoch(start), utc_epoch(end)
        if dataset == "consumption":
            return consumption_dates(self.consumption, lo, hi)
        with self.lock:
            for part in (
                self.people,
                self.selections,
                self.content,
                self.statistics,
                self.mailings,
            ):  # each answers its own datasets (snapshots, selections, choice options)
                found = part.expected_ids(dataset, lo, hi, **options)
                if found is not None:
                    return found
            table = self.table(dataset, **options)
            return [table.ids[i] for i in table.alive() if lo <= table.ts[i] < hi]

    def expected_statistics(
        self, start: datetime | date | str, end: datetime | date | str, product: str = "draganddrop"
    ) -> dict[int, dict[str, Any]]:
        """Emailing id -> statistics (API shape) of its events in ``[start, end)`` UTC."""
        with self.lock:
            return self.statistics.in_window(
                utc_epoch(start), utc_epoch(end), normalise_product(product)
            )

    def expected_lifetime_statistics(
        self, start: datetime | date | str, end: datetime | date | str, product: str = "draganddrop"
    ) -> dict[int, dict[str, Any]]:
        """``emailing_lifetime_statistics``: emailing id -> statistics (API shape) of all its
        events as of now, for the emailings sent in ``[start, end)`` UTC."""
        product = normalise_product(product)
        with self.lock:
            return {
                ident: self.statistics.emailing(product, ident) or {}
                for ident in self.expected_ids("emailings", start, end, product=product)
            }

    def ambiguous_ids(self, dataset: str, **options: Any) -> list[int]:
        """Ids whose naive local timestamp falls in a repeated (autumn DST) hour."""
        repeated = [(t - 3600, t + 3600) for t, kind in self.dst_changes if kind == "autumn"]
        with self.lock:
            table = self.table(dataset, **options)
            return [
                table.ids[i]
                for i in table.alive()
                if any(a <= table.ts[i] < b for a, b in repeated)
            ]

    def removed_ids(self, dataset: str, **options: Any) -> list[int]:
        """Ground truth: ids of the removed profiles/subprofiles (seeded and removed since)."""
        with self.lock:
            table = self.table(dataset, **options)
            assert isinstance(table, PersonTable)
            return [
                table.ids[i]
                for i in range(len(table.ids))
                if table.removed_at[i] and i not in table.deleted
            ]

    # -- changes ---------------------------------------------------------------------------

    def add_records(
        self, dataset: str, timestamps: Iterable[datetime | str], **options: Any
    ) -> list[int]:
        """Append copies of the dataset's last record with new max ids at the given instants.

        Works for profiles, subprofiles, emailings, destinations and the six events; the new
        records count in :meth:`expected_ids`. Returns the new ids.
        """
        with self.lock:
            return self.changes.insert(dataset, self.table(dataset, **options), timestamps, options)

    def delete_record(self, dataset: str, ident: int, **options: Any) -> None:
        """Remove a record (it disappears from the API and from the ground truth)."""
        with self.lock:
            self.changes.delete(dataset, self.table(dataset, **options), ident, options)

    def remove_record(
        self, dataset: str, ident: int, at: datetime | str | None = None, **options: Any
    ) -> list[int]:
        """Remove a profile or subprofile as Copernica does: it vanishes from lists, totals
        and the ground truth, its ``modified`` does not change, and ``profile/{id}`` /
        ``subprofile/{id}`` still answer it with empty fields and ``removed`` set. Removing
        a profile removes its subprofiles too. Returns the ids of the removed subprofiles."""
        moment = utc_epoch(at) if at is not None else int(time.time())
        with self.lock:
            table = self.table(dataset, **options)
            return self.changes.remove(dataset, table, ident, moment, options)

    def churn(self, table: Table, last_id: int) -> None:
        """The ``churn`` fault: delete the first record after ``last_id``, insert a copy of it
        with a new max id (same timestamps and values). Both are logged in ``mutations``."""
        with self.lock:
            self.changes.churn(table, last_id)

    def hide_recent(self, seconds: float, days: int = 1) -> None:
        """``data_after``: hide records of the last ``days`` before the anchor for ``seconds``."""
        with self.lock:
            self.changes.hide_recent(self.span_end - days * DAY, seconds)

    def set_modified_field(self, name: str | None = "modified") -> None:
        """The ``modified_field`` switch (see ``People.set_modified_field``)."""
        with self.lock:
            self.people.set_modified_field(name)

    def reset(self) -> None:
        """Undo every mutation (appended, deleted and churned records; hidden data; the
        ``modified_field`` switch)."""
        with self.lock:
            self.people.set_modified_field(None)
            for table in self.all_tables():
                table.rollback()
            self.mailings.rollback_index()
            self.changes.reset()

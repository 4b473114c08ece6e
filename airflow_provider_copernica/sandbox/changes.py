"""Changes to the sandbox's seeded records after seeding, logged for the ground truth.

Inserted copies with new max ids (late data), deletions, Copernica-style removals of
(sub)profiles, the ``churn`` fault's delete-and-reinsert, and the ``data_after`` cut-off.
Every change is an entry of :attr:`Changes.log` (``op``: insert, delete, remove or churn,
with the wall-clock time it happened), which the faithful-copy ground truth
(``snapshots.vanished_ids``) orders against the runs that observe them. The callers
(:class:`~.data.SandboxData`) hold the data lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from airflow_provider_copernica.sandbox.emailings import Emailings
from airflow_provider_copernica.sandbox.people import People, PersonTable
from airflow_provider_copernica.sandbox.tables import Table
from airflow_provider_copernica.sandbox.timeutil import fmt_local, utc_epoch


class Changes:
    """The change log of one :class:`~.data.SandboxData`, and the changes themselves."""

    def __init__(self, people: People, mailings: Emailings) -> None:
        self.people = people
        self.mailings = mailings
        self.log: list[dict[str, Any]] = []
        self.hidden_from: int | None = None  # data_after: rows with ts >= this are invisible
        self.hidden_until: float = 0.0

    def insert(
        self,
        dataset: str,
        table: Table,
        timestamps: Iterable[datetime | str],
        options: dict[str, Any],
    ) -> list[int]:
        """Append copies of the table's last record with new max ids at the given instants."""
        if not len(table.ids):
            raise ValueError(f"{dataset} has no record to copy")
        new_ids = [self.copy_row(table, len(table.ids) - 1, utc_epoch(t)) for t in timestamps]
        self._note("insert", dataset=dataset, ids=new_ids, options=options)
        return new_ids

    def copy_row(self, table: Table, source: int, moment: int) -> int:
        """A copy of row ``source`` with a new max id at ``moment``; returns the new id."""
        ident = table.ids[-1] + 1
        if isinstance(table, PersonTable):
            table.created.append(table.created[source])
            table.removed_at.append(table.removed_at[source])
            table.src.append(table.src[source])
            table.append(ident, moment)
            return ident
        row = dict(table.rows[source])
        key = table.id_key if table.id_key in row else "ID"
        row[key] = str(ident)
        if table.ts_key:
            row[table.ts_key] = fmt_local(moment)
        cols = {name: values[source] for name, values in table.columns.items()}
        self.mailings.index_copy(table, table.append(ident, moment, row, **cols))
        return ident

    def delete(self, dataset: str, table: Table, ident: int, options: dict[str, Any]) -> None:
        """Delete a record (it disappears from the API and from the ground truth)."""
        index = table.index_of(int(ident))
        if index is None:
            raise KeyError(f"{dataset} has no record {ident}")
        table.delete(index)
        self._note("delete", dataset=dataset, ids=[int(ident)], options=options)

    def remove(
        self, dataset: str, table: Table, ident: int, moment: int, options: dict[str, Any]
    ) -> list[int]:
        """Remove a profile or subprofile as Copernica does (see ``People.remove``)."""
        index = table.index_of(int(ident))
        if index is None or not isinstance(table, PersonTable) or table.removed_at[index]:
            raise KeyError(f"{dataset} has no current record {ident}")
        cascade = self.people.remove(table, index, moment)
        self._note(
            "remove", dataset=dataset, ids=[int(ident)], subprofiles=cascade, options=options
        )
        return cascade

    def churn(self, table: Table, last_id: int) -> None:
        """The ``churn`` fault: delete the first record after ``last_id``, insert a copy of it
        with a new max id (same timestamps and values)."""
        pos = table.index_of(last_id)
        start = (pos + 1) if pos is not None else 0
        removed = table.removed_at if isinstance(table, PersonTable) else None
        victim = next(
            (
                i
                for i in range(start, len(table.ids))
                if i not in table.deleted and not (removed is not None and removed[i])
            ),
            None,
        )
        if victim is None:
            return
        old_id = table.ids[victim]
        new_id = self.copy_row(table, victim, table.ts[victim])
        table.delete(victim)
        self._note("churn", table=table.name, deleted=old_id, inserted=new_id)

    def hide_recent(self, cutoff: int, seconds: float) -> None:
        """``data_after``: hide the records at or after ``cutoff`` for ``seconds``."""
        self.hidden_from = cutoff
        self.hidden_until = time.monotonic() + seconds

    def hidden(self) -> int | None:
        """The ``data_after`` cut-off while it is active, else None."""
        if self.hidden_from is not None and time.monotonic() < self.hidden_until:
            return self.hidden_from
        return None

    def reset(self) -> None:
        """Forget the log and the cut-off (the tables roll back on their own)."""
        self.log = []
        self.hidden_from, self.hidden_until = None, 0.0

    def _note(self, op: str, **entry: Any) -> None:
        # when it happened (wall clock): deletions are ordered against the runs observing them
        self.log.append({"op": op, **entry, "wall": time.time()})

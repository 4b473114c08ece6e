"""The sandbox's emailings (both products), their destinations and events, with their
endpoints.

Every week of the data span has sendings, so any recent window has events; some emailings
are sent in the repeated autumn DST hour (both folds), around the spring gap, on a local
midnight and two days before the anchor. ``emailings=N`` replaces the natural schedule by N
emailings per product over the three years before the anchor (:meth:`Emailings.history_times`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_copernica.sandbox.events import (
    EVENT_KINDS,
    RawEvents,
    destination_events,
    destination_row,
    event_row,
    scale_clicks,
)
from airflow_provider_copernica.sandbox.people import People
from airflow_provider_copernica.sandbox.protocol import (
    PRODUCT,
    HTTPError,
    Listing,
    Query,
    Route,
    local_range,
    normalise_product,
    table_page,
)
from airflow_provider_copernica.sandbox.specs import PRODUCTS_SOLD
from airflow_provider_copernica.sandbox.tables import Condition, QueryError, Table, select
from airflow_provider_copernica.sandbox.timeutil import DAY, fmt_local

EMAILING_STATUSES = ("sent", "draft", "scheduled", "all")
EVENT = "(?P<event>" + "|".join(EVENT_KINDS) + ")"


class Emailings:
    """The emailings, destinations and events of both products.

    ``emailings`` product -> table, ``destinations`` product -> table, ``events`` (product,
    kind) -> table, and ``emailing_events`` (product, emailing id) -> kind -> row indices of
    its events (for statistics).
    """

    def __init__(
        self,
        people: People,
        *,
        seed: int,
        profiles: int,
        span: tuple[int, int],
        dst_changes: Sequence[tuple[int, str]],
        special: Sequence[int],
        history: int | None = None,
        clicks: int | None = None,
    ) -> None:
        self.seed = seed
        self.profile_count = profiles
        self.span_start, self.span_end = span
        self.dst_changes = dst_changes
        self.special_instants = special
        self.history_emailings = history
        self.click_target = clicks
        self.emailings: dict[str, Table] = {}
        self.destinations: dict[str, Table] = {}
        self.events: dict[tuple[str, str], Table] = {}
        self.emailing_events: dict[tuple[str, int], dict[str, list[int]]] = {}
        self._unique: dict[str, tuple[int, set[int]]] = {}  # table -> (version, first rows)
        self._generate(people)

    def _generate(self, people: People) -> None:
        main = people.profile_tables[7616]
        alive = [i for i in range(len(main.ids)) if not main.removed_at[i]]
        orders = people.subprofile_tables[6312]
        scale = min(2.0, max(1.0, self.profile_count / 3000))
        for product, first_id, per_week in (("draganddrop", 169, 1.6), ("html", 1281, 1.2)):
            prng = random.Random(f"{self.seed}:{product}")
            # every week of the span has sendings, so any recent window has events
            times = []
            for week_start in range(self.span_start, self.span_end - DAY, 7 * DAY):
                width = min(7 * DAY, self.span_end - DAY - week_start)
                times += [week_start + prng.randrange(width) for _ in range(int(per_week))]
                if prng.random() < per_week % 1:
                    times.append(week_start + prng.randrange(width))
            if self.history_emailings:
                times = self.history_times(prng)
            # emailings in the repeated autumn hour (both folds), around the spring gap, on a
            # local midnight, and two days before the anchor (so yesterday has events)
            for moment, kind in self.dst_changes:
                times += (
                    [moment - 1, moment] if kind == "spring" else [moment - 1800, moment + 1800]
                )
            times += [self.special_instants[0], self.span_end - 2 * DAY + 10 * 3600]
            times.sort()
            mails = Table(name=f"emailings:{product}", id_key="id", ts_key="timestamp")
            dests = Table(name=f"destinations:{product}", id_key="id", ts_key="timestampsent")
            raw: RawEvents = {kind: [] for kind in EVENT_KINDS}
            dest_id = 312 if product == "draganddrop" else 57092
            ident = first_id
            mailing_rows = []
            for n, sent in enumerate(times):
                ident += 1 + prng.randrange(3)
                to_collection = n % 5 == 4
                low, high = (10, 30) if self.history_emailings else (40, 300)
                size = min(len(alive), int(prng.randint(low, high) * scale))
                chosen = sorted(prng.sample(alive, size))
                followup = n % 7 == 6
                base = {
                    "id": str(ident),
                    "timestamp": fmt_local(sent),
                    "template": str(579 + n % 4),
                    "subject": f"Newsletter {n + 1}: {PRODUCTS_SOLD[n % len(PRODUCTS_SOLD)]}",
                    "from_address": {"name": "Sandbox Shop", "email": "news@example.com"},
                    "destinations": size,
                    "type": "individual" if n % 9 == 8 else "mass",
                    "target": {
                        "type": "collection" if to_collection else "database",
                        "sources": ([{"id": "6312", "type": "collection"}] if to_collection else [])
                        + [{"id": "7616", "type": "database"}],
                    },
                }
                meta = {"followup": followup, "test": n % 11 == 10, "status": "sent"}
                mailing_rows.append((ident, sent, base, meta))
                for k, index in enumerate(chosen):
                    dest_id += 1
                    sent_at = sent + k // 20  # a sending rate of 20 per second
                    profile = main.ids[index]
                    subprofile = None
                    if to_collection and len(orders.ids):
                        subprofile = orders.ids[(index * 7) % len(orders.ids)]
                    destination_events(prng, raw, ident, dest_id, sent_at, profile, subprofile)
                    row = destination_row(product, dest_id, sent_at, profile, subprofile, ident)
                    dests.append(dest_id, sent_at, row, mailing=ident)
            for ident, sent, base, meta in mailing_rows:
                mails.append(ident, sent, base, **meta)
            self.emailings[product] = mails
            self.destinations[product] = dests
            scale_clicks(raw["clicks"], self.click_target, f"{self.seed}:{product}:events")
            self._events_tables(product, prng, raw, mails)

    def history_times(self, rng: random.Random) -> list[int]:
        """``emailings=N``: N sending times over the three years before the anchor (the
        special instants are added by the caller)."""
        count = self.history_emailings or 0
        first, last = self.span_end - 3 * 365 * DAY, self.span_end - DAY
        return [first + rng.randrange(last - first) for _ in range(count - 6)]

    def _events_tables(
        self, product: str, rng: random.Random, raw: RawEvents, mails: Table
    ) -> None:
        mail_ts = {mails.ids[i]: mails.ts[i] for i in range(len(mails.ids))}
        for kind in EVENT_KINDS:
            items = [e for e in raw[kind] if e[0] < self.span_end]
            # pin a few events of every kind onto the special instants (midnights, DST)
            for moment in self.special_instants:
                candidates = [n for n, e in enumerate(items) if mail_ts[e[1]] < moment]
                if candidates:
                    n = candidates[rng.randrange(len(candidates))]
                    items[n] = (moment, *items[n][1:])
            items.sort()
            table = Table(
                name=f"{kind}:{product}",
                ts_key="timestamp",
                special_fields=("id", "timestamp") if product == "html" else (),
            )
            ident = {"deliveries": 1, "impressions": 44807, "clicks": 19431}.get(kind, 1)
            per_mail: dict[int, list[int]] = {}
            for moment, mailing, dest, profile, subprofile, variant in items:
                ident += 1
                row = event_row(
                    product, kind, ident, moment, mailing, dest, profile, subprofile, variant
                )
                index = table.append(
                    ident, moment, row, mailing=mailing, destination=dest, variant=variant
                )
                per_mail.setdefault(mailing, []).append(index)
            self.events[(product, kind)] = table
            for mailing, rows in per_mail.items():
                self.emailing_events.setdefault((product, mailing), {})[kind] = rows
        if product == "html":  # HTML emailings carry all-time counters as numeric strings
            for i, ident in enumerate(mails.ids):
                counts = self.emailing_events.get((product, ident), {})
                row = mails.rows[i]
                row["destinations"] = str(row["destinations"])
                row.update(
                    {
                        "document": str(114 + i % 3),
                        "description": row["subject"],
                        "testgroups": 0,
                        "finalgroup": None,
                        "clicks": str(len(counts.get("clicks", []))),
                        "impressions": str(len(counts.get("impressions", []))),
                        "errors": str(len(counts.get("errors", []))),
                        "unsubscribes": str(len(counts.get("unsubscribes", []))),
                        "abuses": str(len(counts.get("abuses", []))),
                        "contenttype": "html",
                    }
                )
                row["target"] = row.pop("target")

    def tables(self) -> list[Table]:
        return [*self.emailings.values(), *self.destinations.values(), *self.events.values()]

    def index_copy(self, table: Table, index: int) -> None:
        """Count a copied event row (``add_records``, ``churn``) in its emailing's events."""
        kind, _, product = table.name.partition(":")
        mailings = table.columns.get("mailing")
        if kind in EVENT_KINDS and mailings is not None:
            per_kind = self.emailing_events.setdefault((product, mailings[index]), {})
            per_kind.setdefault(kind, []).append(index)

    def rollback_index(self) -> None:
        """Forget the copied event rows (after the tables' rollback)."""
        for (product, _), per_kind in self.emailing_events.items():
            for kind, rows in per_kind.items():
                base = self.events[(product, kind)]._base or 0
                per_kind[kind] = [i for i in rows if i < base]

    def mailing_index(self, product: str, mailing: str) -> int:
        """The row of the emailing named in a path, or a 404."""
        table = self.emailings[product]
        try:
            index = table.index_of(int(mailing))
        except ValueError:
            index = None
        if index is None:
            raise HTTPError(404, f"no {product} emailing {mailing!r}")
        return index

    def unique_rows(self, table: Table, kind: str) -> set[int]:
        """The first click (per destination and link) or unsubscribe (per destination)."""
        cached = self._unique.get(table.name)
        if cached is not None and cached[0] == table.version:
            return cached[1]
        seen: set[tuple[Any, ...]] = set()
        firsts: set[int] = set()
        dests, variants = table.columns["destination"], table.columns["variant"]
        for i in table.alive():
            key = (dests[i], variants[i]) if kind == "clicks" else (dests[i],)
            if key not in seen:
                seen.add(key)
                firsts.add(i)
        self._unique[table.name] = (table.version, firsts)
        return firsts

    # -- ground truth ----------------------------------------------------------------------

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Windowed datasets filtered by a choice option (``status``, ``test``, ``unique``);
        None for the rest (the window alone decides)."""
        product = options.get("product") or "draganddrop"
        if dataset == "emailings" and ("status" in options or "test" in options):
            table = self.emailings[product]
            status, test = options.get("status"), options.get("test", "both")
            rows = [i for i in table.alive() if lo <= table.ts[i] < hi]
            if status is not None and status != "all":
                rows = [i for i in rows if table.columns["status"][i] == status]
            if test != "both":
                rows = [i for i in rows if table.columns["test"][i] == (test == "yes")]
            return [table.ids[i] for i in rows]
        if dataset in ("clicks", "unsubscribes") and str(options.get("unique")).lower() == "true":
            table = self.events[(normalise_product(product), dataset)]
            firsts = sorted(self.unique_rows(table, dataset))
            return [table.ids[i] for i in firsts if lo <= table.ts[i] < hi]
        return None


def _equals(values: list[Any], wanted: object) -> Callable[[int], bool]:
    return lambda i: values[i] == wanted


def routes(mailings: Emailings, listing: Listing) -> list[Route]:
    """The endpoints of emailings, their destinations and events."""

    def emailings(query: Query, product: str) -> Any:
        table = mailings.emailings[product]
        extra = local_range(table, query.naive("fromdate"), query.naive("todate"))
        kind = query.choice("type", ("mass", "individual", "both"), "both")
        if kind != "both":
            extra.append((f"type={kind}", lambda i: table.rows[i]["type"] == kind))
        for name, column in (("followups", "followup"), ("test", "test")):
            if name == "test" and product != "html":
                continue
            wanted = query.choice(name, ("yes", "no", "both"), "both")
            if wanted != "both":
                extra.append((f"{name}={wanted}", _equals(table.columns[column], wanted == "yes")))
        low = query.integer("mindestinations", 0)
        high = query.integer("maxdestinations", -1, low=-1)
        if low:
            extra.append((f"min={low}", lambda i: int(table.rows[i]["destinations"]) >= low))
        if high >= 0:
            extra.append((f"max={high}", lambda i: int(table.rows[i]["destinations"]) <= high))
        if product == "draganddrop":
            status = query.choice("status", EMAILING_STATUSES, "sent")
            if status != "all":
                statuses = table.columns["status"]
                extra.append((f"status={status}", lambda i: statuses[i] == status))
            first, last = query.integer("fromid", 0), query.integer("toid", -1, low=-1)
            if first:
                extra.append((f"fromid={first}", lambda i: table.ids[i] >= first))
            if last >= 0:
                extra.append((f"toid={last}", lambda i: table.ids[i] <= last))
        rows = select(table, extra=extra, hidden_from=listing.hidden()).rows
        return table_page(table, rows, query)

    def emailing(query: Query, product: str, mailing: str) -> Any:
        return mailings.emailings[product].rows[mailings.mailing_index(product, mailing)]

    def events(
        query: Query,
        product: str,
        event: str,
        mailing: str | None = None,
        dest: str | None = None,
    ) -> Any:
        table = mailings.events[(product, event)]
        extra: list[tuple[str, Callable[[int], bool]]] = []
        if mailing is not None:
            index = mailings.mailing_index(product, mailing)
            ident = mailings.emailings[product].ids[index]
            by_mailing = table.columns.get("mailing", [])
            extra.append((f"mailing={ident}", lambda i: by_mailing[i] == ident))
        if dest is not None:
            try:
                wanted = int(dest)
            except ValueError:
                raise HTTPError(404, f"no destination {dest!r}") from None
            dests = table.columns.get("destination", [])
            extra.append((f"dest={wanted}", lambda i: dests[i] == wanted))
        conditions: list[Condition] = []
        if product == "draganddrop":
            if any(k in ("fields[]", "fields") for k, _ in query.pairs):
                raise QueryError(
                    "fields[] is not supported on drag-and-drop event lists; "
                    "use begintime and endtime (YYYY-MM-DD HH:MM:SS)"
                )
            extra += local_range(table, query.naive("begintime"), query.naive("endtime"))
            if event in ("clicks", "unsubscribes") and query.boolean("unique", False):
                firsts = mailings.unique_rows(table, event)
                extra.append(("unique", firsts.__contains__))
        else:
            for name in ("begintime", "endtime"):
                if query.get(name) is not None:
                    raise QueryError(
                        f"{name} is not supported on HTML event lists; "
                        "filter with fields[]=timestamp>=YYYY-MM-DD hh:mm:ss"
                    )
            conditions = query.conditions()
        rows = select(table, conditions, extra=extra, hidden_from=listing.hidden()).rows
        page = table_page(table, rows, query)
        after = listing.after_event_page(table, rows, query)  # churn: events come and go
        return page if after is None else (page, after)

    def destinations(query: Query, product: str, mailing: str | None = None) -> Any:
        table = mailings.destinations[product]
        low, high = query.naive("from", "YYYY-MM-DD"), query.naive("to", "YYYY-MM-DD")
        # from/to are whole local days, both inclusive
        extra = local_range(table, low, high + DAY - 1 if high is not None else None)
        if mailing is not None:
            ident = mailings.emailings[product].ids[mailings.mailing_index(product, mailing)]
            by_mailing = table.columns["mailing"]
            extra.append((f"mailing={ident}", lambda i: by_mailing[i] == ident))
        rows = select(table, extra=extra, hidden_from=listing.hidden()).rows
        return table_page(table, rows, query)

    one = PRODUCT + r"/emailing/(?P<mailing>[^/]+)"
    return [
        (PRODUCT + r"/emailings", emailings),
        (one, emailing),
        (one + "/" + EVENT, events),
        (one + r"/destinations", destinations),
        (PRODUCT + r"/destination/(?P<dest>[^/]+)/" + EVENT, events),
        (PRODUCT + r"/" + EVENT, events),
        (PRODUCT + r"/destinations", destinations),
    ]

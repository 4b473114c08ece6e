"""Seeded, deterministic Copernica data for the sandbox, and the ground truth tests check against.

:class:`SandboxData` generates everything from ``(profiles, seed, anchor)``: the same inputs
always give the same records. The data spans roughly the seven months before ``anchor``
(00:00 UTC of the anchor date is the exclusive end), stretched so that the most recent spring
and autumn Europe/Amsterdam DST changes are inside. Records are deliberately placed on local
midnights, on both sides of the spring-forward gap (never inside it), and in the repeated
hour 02:00-03:00 of the autumn change, where two different instants render the same naive
local string.

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
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

from airflow_provider_copernica.sandbox.coverage import DATASETS as COVERAGE_DATASETS
from airflow_provider_copernica.sandbox.coverage import Coverage
from airflow_provider_copernica.sandbox.tables import Table
from airflow_provider_copernica.sandbox.timeutil import (
    DAY,
    TZ,
    fmt_local,
    fmt_naive,
    local_midnight,
    local_naive,
    to_datetime,
    transitions,
    utc_epoch,
)

EVENT_KINDS = ("deliveries", "impressions", "clicks", "errors", "unsubscribes", "abuses")
PRODUCTS = ("draganddrop", "html")
PRODUCT_ALIASES = {"draganddrop": "draganddrop", "ms": "draganddrop", "html": "html"}
PRODUCT_ALIASES["publisher"] = "html"
SNAPSHOT_DATASETS = ("databases", "database_fields", "collections")
DATASETS = (
    *SNAPSHOT_DATASETS,
    "profiles",
    "subprofiles",
    "emailings",
    "emailing_statistics",
    "emailing_lifetime_statistics",
    *EVENT_KINDS,
    "destinations",
    "consumption",
)
ACCOUNT = {
    "id": "34",
    "name": "Sandbox",
    "description": "Local Copernica sandbox account",
    "company": "Copernica Sandbox BV",
}

FIRST = [
    "Anna",
    "Bram",
    "Chloé",
    "Daan",
    "Emma",
    "Finn",
    "Guus",
    "Hanna",
    "Isa",
    "Jesse",
    "Julia",
    "Lars",
    "Lotte",
    "Milan",
    "Noah",
    "Sanne",
    "Sem",
    "Tess",
    "Zoë",
    "Luuk",
]
LAST = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "Dekker",
    "Brouwer",
    "Müller",
    "O'Brien",
    "García",
]
CITIES = [
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Köln",
    "Antwerpen",
]
COUNTRIES = ("Netherlands", "Netherlands", "Netherlands", "Belgium", "Germany")
PRODUCTS_SOLD = ("Shoes", "Jacket", "Umbrella", "Bike", "Coffee, beans", 'Poster "Delft"')
COMPANIES = ("Acme BV", "Tulip Tech", "Windmill Foods", "Canal Logistics", "Polder & Co")
INTERESTS = (("soccer", "sports"), ("baseball", "sports"), ("tennis", "sports"))
INTERESTS += (("cooking", "hobbies"), ("travel", "hobbies"))

# Database catalogue: (field name, Copernica type, value generator). Data, not code paths.
DATABASE_SPECS: list[dict[str, Any]] = [
    {
        "id": 7616,
        "name": "Newsletter",
        "description": "Newsletter subscribers",
        "created": "2013-01-06 14:19:51",
        "share": 1.0,
        "fields": [
            ("email", "email", "email"),
            ("firstname", "text", "first"),
            ("lastname", "text", "last"),
            ("city", "text", "city"),
            ("country", "text", "country"),
            ("age", "integer", "age"),
            ("birthdate", "date", "birthdate"),
            ("score", "float", "score"),
            ("newsletter", "select", "yesno"),
        ],
        "interests": INTERESTS,
        "collections": [
            {
                "id": 6312,
                "name": "Orders",
                "per_profile": 1.0,
                "fields": [
                    ("order_number", "integer", "counter"),
                    ("product", "text", "product"),
                    ("amount", "float", "amount"),
                    ("email", "email", "email"),
                ],
            },
            {
                "id": 6313,
                "name": "Tickets",
                "per_profile": 0.3,
                "fields": [
                    ("subject", "text", "product"),
                    ("status", "text", "status"),
                    ("closed", "datetime", "closed_time"),
                ],
            },
        ],
    },
    {
        "id": 7617,
        "name": "B2B contacts",
        "description": "Business contacts",
        "created": "2018-03-08 10:47:01",
        "share": 0.05,
        "fields": [
            ("company", "text", "company"),
            ("email", "email", "email"),
            ("city", "text", "city"),
        ],
        "interests": (("events", "marketing"),),
        "collections": [
            {
                "id": 6320,
                "name": "Contacts",
                "per_profile": 2.0,
                "fields": [("role", "text", "status"), ("phone", "phone", "phone")],
            }
        ],
    },
    {
        "id": 7618,
        "name": "Old imports",
        "description": "Archived, empty database",
        "created": "2012-05-01 09:00:00",
        "share": 0.0,
        "archived": True,
        "fields": [("email", "email", "email")],
        "interests": (),
        "collections": [],
    },
]
PROFILE_ID_BASE = {7616: 1_000_000, 7617: 3_000_000, 7618: 4_000_000}
SUBPROFILE_ID_BASE = {6312: 20_000_000, 6313: 25_000_000, 6320: 28_000_000}


CRM_EPOCH = 1_640_995_200  # 2022-01-01 00:00:00 UTC
EMPTY_DATE, EMPTY_DATETIME = "0000-00-00", "0000-00-00 00:00:00"  # how Copernica sends none
_EMAIL_LAST = [name.replace(" ", "").replace("'", "").lower() for name in LAST]
_EMAIL_FIRST = [name.lower() for name in FIRST]
_BIRTHDATES = [(date(1950, 1, 1) + timedelta(days=n)).isoformat() for n in range(0, 20000, 7)]
# Field value generators: (32-bit random r, record id) -> the field's string value.
GENERATORS: dict[str, Callable[[int, int], str]] = {
    "email": lambda r, i: (
        f"{_EMAIL_FIRST[r % len(FIRST)]}.{_EMAIL_LAST[(r >> 8) % len(LAST)]}{i}@example.com"
    ),
    "first": lambda r, i: FIRST[r % len(FIRST)],
    "last": lambda r, i: LAST[(r >> 8) % len(LAST)],
    "city": lambda r, i: CITIES[(r >> 4) % len(CITIES)],
    "country": lambda r, i: COUNTRIES[(r >> 12) % len(COUNTRIES)],
    "age": lambda r, i: str(18 + (r >> 16) % 62),
    # Copernica's empty date is 0000-00-00 (one in 16 profiles has no birth date)
    "birthdate": lambda r, i: _BIRTHDATES[(r >> 3) % len(_BIRTHDATES)] if r % 16 else EMPTY_DATE,
    "score": lambda r, i: f"{(r % 10000) / 100:.2f}",
    "yesno": lambda r, i: "yes" if (r >> 20) % 3 else "no",
    "counter": lambda r, i: str(100000 + i % 1000000),
    "product": lambda r, i: PRODUCTS_SOLD[(r >> 5) % len(PRODUCTS_SOLD)],
    "amount": lambda r, i: f"{(r % 50000) / 100:.2f}",
    "status": lambda r, i: ("open", "closed", "pending")[(r >> 7) % 3],
    # set for closed tickets, else Copernica's empty datetime 0000-00-00 00:00:00
    "closed_time": lambda r, i: (
        fmt_naive(CRM_EPOCH + r % (3 * 365 * DAY)) if (r >> 7) % 3 == 1 else EMPTY_DATETIME
    ),
    "company": lambda r, i: COMPANIES[(r >> 6) % len(COMPANIES)],
    "phone": lambda r, i: f"+31 6 {r % 100000000:08d}",
    # a CRM's own "last modified" time: unrelated to the record's modified property
    "crm_time": lambda r, i: fmt_naive(CRM_EPOCH + r % (3 * 365 * DAY)),
}
# The ``modified_field`` switch: a database/collection field that shadows ``modified``.
MODIFIED_FIELD = ("modified", "datetime", "crm_time")


def _random_words(rng: random.Random, count: int) -> array:
    """``count`` random 32-bit unsigned integers."""
    words = array("I")
    if words.itemsize == 4:
        words.frombytes(rng.randbytes(4 * count))
        return words
    return array("L", (rng.getrandbits(32) for _ in range(count)))  # exotic platforms


def _field_defs(fields: Sequence[tuple[str, str, str]], first_id: int) -> list[dict[str, Any]]:
    return [
        {
            "ID": str(first_id + n),
            "name": name,
            "type": ftype,
            "value": "",
            "displayed": True,
            "ordered": False,
            "length": "255" if ftype == "text" else "100",
            "textlines": "0",
            "hidden": False,
            "index": name in ("email", "order_number"),
        }
        for n, (name, ftype, _) in enumerate(fields)
    ]


def _envelope(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"start": 0, "limit": 1000, "count": len(items), "data": items, "total": len(items)}


def normalise_product(product: str | None) -> str:
    value = (product or "draganddrop").lower()
    if value not in PRODUCT_ALIASES:
        raise ValueError(
            f"unknown product {product!r}; valid products: draganddrop (ms), html (publisher)"
        )
    return PRODUCT_ALIASES[value]


class _ProfileTable(Table):
    """Profiles or subprofiles rendered on demand from compact per-row random numbers."""

    def setup(
        self,
        *,
        seed: int,
        fields: Sequence[tuple[str, str, str]],
        owner_key: str,
        owner_id: str,
        parents: array | None,
        interests: Sequence[str] | None,
    ) -> None:
        self.seed = seed
        self.kinds = {name: kind for name, _, kind in fields}
        self.generators = [(name, GENERATORS[kind]) for name, _, kind in fields]
        self.owner_key, self.owner_id = owner_key, owner_id
        self.parents = parents  # subprofiles: profile id per row
        self.interest_names = list(interests) if interests is not None else None
        self.created = array("q")
        self.removed_at = array("q")  # 0 = not removed, else UTC epoch of removal
        self.rand = array("I")  # per-row 32-bit random driving field values
        self.src = array("l")  # row whose values a row shows (inserted copies point back)
        self.renderer = self._render
        self.field_getter = self._field
        self.code_getter = self._secret
        self.field_types = {name: ftype for name, ftype, _ in fields}
        self.special_fields = ("id", "code", "modified")
        self._alive: tuple[int, list[int]] | None = None
        self._removed_base = array("q")

    def alive(self) -> Sequence[int]:
        """Rows the lists show: removed (sub)profiles vanish from lists and totals."""
        if self._alive is None or self._alive[0] != self.version:
            removed, deleted = self.removed_at, self.deleted
            rows = [i for i in range(len(self.ids)) if not removed[i] and i not in deleted]
            self._alive = (self.version, rows)
        return self._alive[1]

    def remove(self, index: int, moment: int) -> None:
        """Remove a record at ``moment`` (UTC epoch); its ``modified`` stays as it was."""
        self.removed_at[index] = moment
        self.touch()

    def checkpoint(self) -> None:
        self._removed_base = array("q", self.removed_at)
        super().checkpoint()

    def rollback(self) -> bool:
        base = self._base if self._base is not None else len(self.ids)
        for seq in (self.created, self.removed_at, self.src):
            del seq[base:]
        changed = self.removed_at != self._removed_base
        if changed:
            self.removed_at[:] = self._removed_base
            self.touch()
        return super().rollback() or changed

    def _secret(self, i: int) -> str:
        # a stable 32-hex "secret" per record; cheaper than a real hash and just as opaque
        mixed = (self.ids[i] * 0x9E3779B97F4A7C15 + self.seed) % (1 << 64)
        return f"{mixed:016x}{mixed * 0xC2B2AE3D27D4EB4F % (1 << 64):016x}"

    def _field(self, i: int, name: str) -> str | None:
        if self.removed_at[i]:
            return None
        src = self.src[i]
        return GENERATORS[self.kinds[name]](self.rand[src], self.ids[src])

    def _render(self, i: int, dataonly: bool) -> dict[str, Any]:
        removed = self.removed_at[i]
        src = self.src[i]
        if removed:  # the live API: every field "" and `removed` set to the removal time
            values: dict[str, str | None] = {name: "" for name, _ in self.generators}
        else:
            r, ident = self.rand[src], self.ids[src]
            values = {name: gen(r, ident) for name, gen in self.generators}
        row: dict[str, Any] = {"ID": str(self.ids[i]), "fields": values}
        if self.interest_names is not None:
            bits = 0 if removed else self.rand[src] >> 24
            row["interests"] = [n for b, n in enumerate(self.interest_names) if bits >> b & 1]
        else:
            row["profile"] = str(self.parents[src]) if self.parents is not None else None
        row[self.owner_key] = self.owner_id
        row["modified"] = fmt_naive(self.lts[i])
        if dataonly:
            return row
        row["secret"] = self._secret(i)
        row["created"] = fmt_local(self.created[i])
        row["removed"] = fmt_local(removed) if removed else False
        return row


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
    (:meth:`_history_times`; the cost benchmarks of ``emailing_statistics``).
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
        self.mutations: list[dict[str, Any]] = []
        self.hidden_from: int | None = None  # data_after: rows with ts >= this are invisible
        self.hidden_until: float = 0.0
        self.modified_field: str | None = None  # the modified_field switch
        self._generate()

    # -- generation ----------------------------------------------------------------------

    def _generate(self) -> None:
        self.mutations = []
        self.hidden_from, self.hidden_until = None, 0.0
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
        self.databases: list[dict[str, Any]] = []
        self.profile_tables: dict[int, _ProfileTable] = {}
        self.subprofile_tables: dict[int, _ProfileTable] = {}
        self.collection_meta: dict[int, dict[str, Any]] = {}
        field_id = 20989
        for spec in DATABASE_SPECS:
            fields = _field_defs(spec["fields"], field_id)
            field_id += 100
            interests = [
                {"ID": str(3053 + n), "name": name, "group": group}
                for n, (name, group) in enumerate(spec["interests"])
            ]
            collections = []
            for coll in spec["collections"]:
                meta = {
                    "ID": str(coll["id"]),
                    "name": coll["name"],
                    "database": str(spec["id"]),
                    "fields": _envelope(_field_defs(coll["fields"], field_id)),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
                field_id += 100
                collections.append(meta)
                self.collection_meta[coll["id"]] = meta
            count = round(self.profile_count * spec["share"])
            if spec["share"] and count < 20:
                count = 20
            table = self._people(
                rng,
                f"profiles:{spec['id']}",
                count,
                PROFILE_ID_BASE[spec["id"]],
                spec["fields"],
                "database",
                str(spec["id"]),
                None,
                [name for name, _ in spec["interests"]],
            )
            self.profile_tables[spec["id"]] = table
            for coll in spec["collections"]:
                n_sub = round(count * coll["per_profile"]) if count else 0
                owners = table.ids
                parents = array("q", [owners[w % count] for w in _random_words(rng, n_sub)])
                sub = self._people(
                    rng,
                    f"subprofiles:{coll['id']}",
                    n_sub,
                    SUBPROFILE_ID_BASE[coll["id"]],
                    coll["fields"],
                    "collection",
                    str(coll["id"]),
                    parents,
                    None,
                )
                self.subprofile_tables[coll["id"]] = sub
            self.databases.append(
                {
                    "ID": str(spec["id"]),
                    "name": spec["name"],
                    "description": spec["description"],
                    "archived": bool(spec.get("archived", False)),
                    "created": spec["created"],
                    "fields": _envelope(fields),
                    "interests": _envelope(interests),
                    "collections": _envelope(collections),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
            )
        self._generate_mailings(rng)
        self._generate_consumption(rng)
        self.coverage = Coverage(self)
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

    def _people(
        self,
        rng: random.Random,
        name: str,
        count: int,
        id_base: int,
        fields: Sequence[tuple[str, str, str]],
        owner_key: str,
        owner_id: str,
        parents: array | None,
        interests: Sequence[str] | None,
    ) -> _ProfileTable:
        table = _ProfileTable(name=name, ts_key="modified")
        table.setup(
            seed=self.seed,
            fields=fields,
            owner_key=owner_key,
            owner_id=owner_id,
            parents=parents,
            interests=interests,
        )
        span = self.span_end - self.span_start
        gaps = rng.randbytes(count)
        rand = _random_words(rng, count)
        offsets = _random_words(rng, count)
        first = self.span_start
        moments = [first + v % span for v in offsets]
        for position, moment in zip(
            rng.sample(range(count), min(count, len(self.special_instants))),
            self.special_instants,
            strict=False,
        ):
            moments[position] = moment
        steps = [1 + g % 3 for g in gaps]
        table.ids = array("q", accumulate(steps, initial=id_base))[1:]
        table.ts = array("q", moments)
        table.lts = array("q", map(local_naive, moments))
        window = 400 * DAY
        table.created = array("q", [m - r % window for m, r in zip(moments, rand, strict=True)])
        # ~2% of records are removed some time after their last change (which removing does
        # not move): they vanish from lists and totals, profile/{id} still shows them
        last = self.span_end - 1
        table.removed_at = array(
            "q",
            [
                min(m + r % (30 * DAY) + 1, last) if g >= 250 else 0
                for m, g, r in zip(moments, gaps, rand, strict=True)
            ],
        )
        table.src = array("l", range(count))
        table.rand = rand
        return table

    def _generate_mailings(self, rng: random.Random) -> None:
        self.emailings: dict[str, Table] = {}
        self.destinations: dict[str, Table] = {}
        self.events: dict[tuple[str, str], Table] = {}
        # emailing id -> {kind: [row indices]} for statistics
        self.emailing_events: dict[tuple[str, int], dict[str, list[int]]] = {}
        main = self.profile_tables[7616]
        alive = [i for i in range(len(main.ids)) if not main.removed_at[i]]
        orders = self.subprofile_tables[6312]
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
                times = self._history_times(prng)
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
            raw: dict[str, list[tuple]] = {kind: [] for kind in EVENT_KINDS}
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
                    self._destination_events(
                        prng, raw, ident, dest_id, sent_at, profile, subprofile
                    )
                    row = self._destination_row(
                        product, dest_id, sent_at, profile, subprofile, ident
                    )
                    dests.append(dest_id, sent_at, row, mailing=ident)
            for ident, sent, base, meta in mailing_rows:
                mails.append(ident, sent, base, **meta)
            self.emailings[product] = mails
            self.destinations[product] = dests
            self._scale_clicks(product, raw["clicks"])
            self._events_tables(product, prng, raw, mails)

    def _history_times(self, rng: random.Random) -> list[int]:
        """``emailings=N``: N sending times over the three years before the anchor (the
        special instants are added by the caller)."""
        count = self.history_emailings or 0
        first, last = self.span_end - 3 * 365 * DAY, self.span_end - DAY
        return [first + rng.randrange(last - first) for _ in range(count - 6)]

    def _scale_clicks(self, product: str, clicks: list[tuple]) -> None:
        """``events=N``: add repeat clicks until there are N (their own random generator;
        profiles, emailings, destinations, deliveries and impressions stay as without it)."""
        if not self.click_target or not clicks:
            return
        rng = random.Random(f"{self.seed}:{product}:events")
        natural = len(clicks)
        for _ in range(self.click_target - natural):
            moment, *rest = clicks[rng.randrange(natural)]
            clicks.append((moment + rng.randint(5, 3 * 3600), *rest))

    def _destination_events(
        self,
        rng: random.Random,
        raw: dict[str, list[tuple]],
        mailing: int,
        dest: int,
        sent: int,
        profile: int,
        subprofile: int | None,
    ) -> None:
        who = (mailing, dest, profile, subprofile)
        if rng.random() < 0.03:
            raw["errors"].append((sent + rng.randint(5, 600), *who, rng.randrange(3)))
            return
        delivered = sent + rng.randint(1, 300)
        raw["deliveries"].append((delivered, *who, 1 + (rng.random() < 0.05)))
        if rng.random() < 0.004:
            raw["abuses"].append((delivered + rng.randint(3600, 3 * DAY), *who, 0))
        if rng.random() >= 0.45:
            return
        opened = delivered + int(rng.expovariate(1 / 40000))
        for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            raw["impressions"].append((opened, *who, rng.randrange(4)))
            opened += rng.randint(60, DAY)
        if rng.random() < 0.3:
            clicked = opened + rng.randint(5, 7200)
            for _ in range(1 + (rng.random() < 0.4)):
                raw["clicks"].append((clicked, *who, rng.randrange(3)))
                clicked += rng.randint(5, 3 * 3600)
        if rng.random() < 0.03:
            raw["unsubscribes"].append((opened + rng.randint(5, 3600), *who, 0))

    @staticmethod
    def _destination_row(
        product: str, dest: int, sent: int, profile: int, subprofile: int | None, mailing: int
    ) -> dict[str, Any]:
        if product == "draganddrop":
            return {
                "id": str(dest),
                "messageID": f"<{dest}.{mailing}@mail.example.com>",
                "timestampsent": fmt_local(sent),
                "profile": str(profile),
                "subprofile": str(subprofile) if subprofile else None,
                "mailing": str(mailing),
                "unsubscribed": False,
            }
        return {
            "id": str(dest),
            "timestampsent": fmt_local(sent),
            "internal": str(dest),
            "profile": str(profile),
            "subprofile": str(subprofile) if subprofile else None,
            "mailing": str(mailing),
            "mailing-group": str(mailing * 10),
        }

    def _events_tables(
        self, product: str, rng: random.Random, raw: dict[str, list[tuple]], mails: Table
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
                row = _event_row(
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

    def _generate_consumption(self, rng: random.Random) -> None:
        per_day: dict[str, int] = {}
        for product in PRODUCTS:
            table = self.events[(product, "deliveries")]
            for i in range(len(table.ids)):
                day = fmt_local(table.ts[i])[:10]
                per_day[day] = per_day.get(day, 0) + 1
        self.consumption: list[dict[str, Any]] = []
        day = to_datetime(self.span_start).astimezone(TZ).date()
        last = to_datetime(self.span_end - 1).astimezone(TZ).date()
        while day <= last:
            key = day.isoformat()
            self.consumption.append(
                {
                    "date": key,
                    "emails": per_day.get(key, 0),
                    "texts": rng.randrange(5),
                    "fax": 0,
                    "webpages": rng.randrange(200),
                    "apicalls": rng.randint(100, 5000),
                    "litmustests": 0,
                    "twofiftyoktests": 0,
                }
            )
            day += timedelta(days=1)

    # -- access helpers used by the server -------------------------------------------------

    def profile_table(self, database_id: int | str) -> _ProfileTable | None:
        try:
            return self.profile_tables.get(int(database_id))
        except ValueError:
            return None

    def subprofile_table(self, collection_id: int | str) -> _ProfileTable | None:
        try:
            return self.subprofile_tables.get(int(collection_id))
        except ValueError:
            return None

    def database(self, database_id: int | str) -> dict[str, Any] | None:
        return next((d for d in self.databases if d["ID"] == str(database_id)), None)

    def statistics(self, product: str, mailing: int, within: Any = None) -> dict[str, Any] | None:
        """Statistics of one emailing over events whose row index passes ``within``."""
        mails = self.emailings[product]
        index = mails.index_of(mailing)
        if index is None:
            return None
        rows = self.emailing_events.get((product, mailing), {})
        stats: dict[str, Any] = {"destinations": mails.rows[index]["destinations"]}
        dominant: dict[int, str] = {}
        priority = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
        for kind in priority:
            table = self.events[(product, kind)]
            picked = [
                i
                for i in rows.get(kind, [])
                if i not in table.deleted and (within is None or within(table, i))
            ]
            dests = {table.columns["destination"][i] for i in picked}
            entry = {"total": len(picked)}
            if kind != "deliveries":
                entry["unique"] = len(dests)
            stats[kind] = entry
            for dest in dests:
                dominant[dest] = kind
        stats["unknown"] = {"total": 0}
        stats["dominant_results"] = {"destinations": int(stats["destinations"])} | {
            kind: sum(1 for v in dominant.values() if v == kind)
            for kind in ("errors", "abuses", "unsubscribes", "clicks", "impressions", "deliveries")
        }
        return stats

    def hidden(self) -> int | None:
        """The ``data_after`` cut-off while it is active, else None."""
        import time

        if self.hidden_from is not None and time.monotonic() < self.hidden_until:
            return self.hidden_from
        return None

    # -- ground truth ----------------------------------------------------------------------

    def table(self, dataset: str, **options: Any) -> Table:
        """The table behind a windowed dataset (profiles, subprofiles, emailings, events,
        destinations). Options: ``database_id`` (default 7616), ``collection_id`` (default
        6312), ``product`` (default draganddrop)."""
        if dataset == "profiles":
            table = self.profile_table(options.get("database_id", 7616))
        elif dataset == "subprofiles":
            table = self.subprofile_table(options.get("collection_id", 6312))
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
            if dataset in COVERAGE_DATASETS:
                return self.coverage.records(dataset, **options)
            if dataset == "databases":
                return list(self.databases)
            if dataset == "database_fields":
                db = self.database(options.get("database_id", 7616))
                return list(db["fields"]["data"]) if db else []
            if dataset == "collections":
                db = self.database(options.get("database_id", 7616))
                return list(db["collections"]["data"]) if db else []
            if dataset == "consumption":
                return list(self.consumption)
            if dataset == "emailing_statistics":
                product = normalise_product(options.get("product"))
                return [
                    {"id": str(i), **(self.statistics(product, i) or {})}
                    for i in self.table("emailings", product=product).ids
                ]
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
        from airflow_provider_copernica.sandbox import snapshots

        if dataset in snapshots.DATASETS:  # snapshots, id lists, deletions
            return snapshots.expected_ids(self, dataset, start, end, **options)
        lo, hi = utc_epoch(start), utc_epoch(end)
        with self.lock:
            covered = self.coverage.expected_ids(dataset, lo, hi, **options)
        if covered is not None:
            return covered
        if dataset in SNAPSHOT_DATASETS:
            return sorted(int(r["ID"]) for r in self.records(dataset, **options))
        if dataset == "consumption":
            first = to_datetime(lo).astimezone(TZ).date().isoformat()
            last = to_datetime(hi).astimezone(TZ).date().isoformat()
            return [r["date"] for r in self.consumption if first <= r["date"] < last]
        with self.lock:
            if dataset == "emailing_statistics":
                product = normalise_product(options.get("product"))
                stats = self.expected_statistics(start, end, product=product)
                return sorted(
                    i for i, s in stats.items() if any(s[k]["total"] for k in EVENT_KINDS if k in s)
                )
            table = self.table(dataset, **options)
            return [table.ids[i] for i in table.alive() if lo <= table.ts[i] < hi]

    def expected_statistics(
        self, start: datetime | date | str, end: datetime | date | str, product: str = "draganddrop"
    ) -> dict[int, dict[str, Any]]:
        """Emailing id -> statistics (API shape) of its events in ``[start, end)`` UTC."""
        lo, hi = utc_epoch(start), utc_epoch(end)
        product = normalise_product(product)
        with self.lock:
            return {
                ident: self.statistics(product, ident, lambda t, i: lo <= t.ts[i] < hi) or {}
                for ident in self.emailings[product].ids
            }

    def expected_lifetime_statistics(
        self, start: datetime | date | str, end: datetime | date | str, product: str = "draganddrop"
    ) -> dict[int, dict[str, Any]]:
        """``emailing_lifetime_statistics``: emailing id -> statistics (API shape) of all its
        events as of now, for the emailings sent in ``[start, end)`` UTC."""
        product = normalise_product(product)
        with self.lock:
            return {
                ident: self.statistics(product, ident) or {}
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

    # -- mutations ------------------------------------------------------------------------

    def add_records(
        self, dataset: str, timestamps: Iterable[datetime | str], **options: Any
    ) -> list[int]:
        """Append copies of the dataset's last record with new max ids at the given instants.

        Works for profiles, subprofiles, emailings, destinations and the six events; the new
        records count in :meth:`expected_ids`. Returns the new ids.
        """
        with self.lock:
            table = self.table(dataset, **options)
            if not len(table.ids):
                raise ValueError(f"{dataset} has no record to copy")
            new_ids = [self._copy_row(table, len(table.ids) - 1, utc_epoch(t)) for t in timestamps]
            self.mutations.append(
                {
                    "op": "insert",
                    "dataset": dataset,
                    "ids": new_ids,
                    "options": options,
                    "wall": _wall(),
                }
            )
            return new_ids

    def _copy_row(self, table: Table, source: int, moment: int) -> int:
        ident = table.ids[-1] + 1
        if isinstance(table, _ProfileTable):
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
        index = table.append(ident, moment, row, **cols)
        mailing = cols.get("mailing")
        kind = table.name.split(":")[0]
        product = table.name.split(":")[1]
        if mailing is not None and kind in EVENT_KINDS:
            self.emailing_events.setdefault((product, mailing), {}).setdefault(kind, []).append(
                index
            )
        return ident

    def delete_record(self, dataset: str, ident: int, **options: Any) -> None:
        """Remove a record (it disappears from the API and from the ground truth)."""
        with self.lock:
            table = self.table(dataset, **options)
            index = table.index_of(int(ident))
            if index is None:
                raise KeyError(f"{dataset} has no record {ident}")
            table.delete(index)
            self.mutations.append(
                {
                    "op": "delete",
                    "dataset": dataset,
                    "ids": [int(ident)],
                    "options": options,
                    "wall": _wall(),
                }
            )

    def remove_record(
        self, dataset: str, ident: int, at: datetime | str | None = None, **options: Any
    ) -> list[int]:
        """Remove a profile or subprofile as Copernica does: it vanishes from lists, totals
        and the ground truth, its ``modified`` does not change, and ``profile/{id}`` /
        ``subprofile/{id}`` still answer it with empty fields and ``removed`` set. Removing
        a profile removes its subprofiles too. Returns the ids of the removed subprofiles."""
        import time

        moment = utc_epoch(at) if at is not None else int(time.time())
        with self.lock:
            table = self.table(dataset, **options)
            index = table.index_of(int(ident))
            if index is None or not isinstance(table, _ProfileTable) or table.removed_at[index]:
                raise KeyError(f"{dataset} has no current record {ident}")
            table.remove(index, moment)
            cascade: list[int] = []
            if dataset == "profiles":
                for sub in self.subprofile_tables.values():
                    parents = sub.parents
                    assert parents is not None
                    hits = [i for i in sub.alive() if parents[sub.src[i]] == int(ident)]
                    for i in hits:
                        sub.removed_at[i] = moment
                    if hits:
                        sub.touch()
                    cascade += [sub.ids[i] for i in hits]
            self.mutations.append(
                {
                    "op": "remove",
                    "dataset": dataset,
                    "ids": [int(ident)],
                    "subprofiles": cascade,
                    "options": options,
                    "wall": _wall(),
                }
            )
            return cascade

    def removed_ids(self, dataset: str, **options: Any) -> list[int]:
        """Ground truth: ids of the removed profiles/subprofiles (seeded and removed since)."""
        with self.lock:
            table = self.table(dataset, **options)
            assert isinstance(table, _ProfileTable)
            return [
                table.ids[i]
                for i in range(len(table.ids))
                if table.removed_at[i] and i not in table.deleted
            ]

    def find_person(self, kind: str, ident: int | str) -> tuple[_ProfileTable, int] | None:
        """``kind`` profile/subprofile: its table and row for ``profile/{id}``, removed ones
        included."""
        tables = self.profile_tables if kind == "profile" else self.subprofile_tables
        try:
            number = int(ident)
        except ValueError:
            return None
        for table in tables.values():
            index = table.index_of(number)
            if index is not None:
                return table, index
        return None

    def churn(self, table: Table, last_id: int) -> None:
        """The ``churn`` fault: delete the first record after ``last_id``, insert a copy of it
        with a new max id (same timestamps and values). Both are logged in ``mutations``."""
        with self.lock:
            pos = table.index_of(last_id)
            start = (pos + 1) if pos is not None else 0
            removed = table.removed_at if isinstance(table, _ProfileTable) else None
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
            new_id = self._copy_row(table, victim, table.ts[victim])
            table.delete(victim)
            self.mutations.append(
                {
                    "op": "churn",
                    "table": table.name,
                    "deleted": old_id,
                    "inserted": new_id,
                    "wall": _wall(),
                }
            )

    def hide_recent(self, seconds: float, days: int = 1) -> None:
        """``data_after``: hide records of the last ``days`` before the anchor for ``seconds``."""
        import time

        with self.lock:
            self.hidden_from = self.span_end - days * DAY
            self.hidden_until = time.monotonic() + seconds

    def all_tables(self) -> list[Table]:
        return [
            *self.profile_tables.values(),
            *self.subprofile_tables.values(),
            *self.emailings.values(),
            *self.destinations.values(),
            *self.events.values(),
        ]

    def set_modified_field(self, name: str | None = "modified") -> None:
        """The ``modified_field`` switch: give every database and collection a field called
        ``name`` (``modified`` in any case; a datetime unrelated to the records' ``modified``
        property), or take it away again with None. On the live API such a field takes the
        property's place in ``fields[]`` filters."""
        with self.lock:
            if name == self.modified_field:
                return
            old, self.modified_field = self.modified_field, name
            _, ftype, kind = MODIFIED_FIELD
            for table in [*self.profile_tables.values(), *self.subprofile_tables.values()]:
                if old is not None:
                    del table.field_types[old], table.kinds[old]
                    table.generators = [g for g in table.generators if g[0] != old]
                if name is not None:
                    table.field_types[name] = ftype
                    table.kinds[name] = kind
                    table.generators.append((name, GENERATORS[kind]))
                table.touch()
            envelopes = [d["fields"] for d in self.databases]
            envelopes += [c["fields"] for c in self.collection_meta.values()]
            for envelope in envelopes:
                items = [f for f in envelope["data"] if f["name"] != old]
                if name is not None:
                    ident = max((int(f["ID"]) for f in items), default=20000) + 1
                    items += _field_defs([(name, ftype, kind)], ident)
                envelope.update(_envelope(items))

    def reset(self) -> None:
        """Undo every mutation (appended, deleted and churned records; hidden data; the
        ``modified_field`` switch)."""
        with self.lock:
            self.set_modified_field(None)
            for table in self.all_tables():
                table.rollback()
            for (product, _), per_kind in self.emailing_events.items():
                for kind, rows in per_kind.items():
                    base = self.events[(product, kind)]._base or 0
                    per_kind[kind] = [i for i in rows if i < base]
            self.mutations = []
            self.hidden_from, self.hidden_until = None, 0.0


def _wall() -> float:
    """When a mutation happened (wall clock): the faithful-copy ground truth orders
    deletions against the runs that observe them (``snapshots.vanished_ids``)."""
    import time

    return time.time()


def _event_row(
    product: str,
    kind: str,
    ident: int,
    moment: int,
    mailing: int,
    dest: int,
    profile: int,
    subprofile: int | None,
    variant: int,
) -> dict[str, Any]:
    stamp = fmt_local(moment)
    agent = ("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Microsoft Outlook 16.0")[variant % 2]
    ip = ("2a03:e280:0:1::1", "192.0.2.10", "198.51.100.7", "203.0.113.5")[variant % 4]
    link = ("https://www.example.com/offers", "{webversion}", "https://www.example.com/é")[
        variant % 3
    ]
    device = ("desktop", "mobile", "tablet", "unknown")[variant % 4]
    who = {
        "destination": str(dest),
        "profile": str(profile),
        "subprofile": str(subprofile) if subprofile else None,
    }
    if product == "draganddrop":
        row: dict[str, Any] = {"ID": str(ident), "mailing": str(mailing), "timestamp": stamp}
        if kind == "deliveries":
            row["attempts"] = variant
        elif kind == "impressions":
            row |= {"ip": ip, "useragent": agent, "device": device}
        elif kind == "clicks":
            row |= {"link": link, "ip": ip, "useragent": agent}
        elif kind == "errors":
            row |= {
                "status": None,
                "errorcode": ("5.1.1", "4.2.2", "5.1.2")[variant],
                "description": ("User unknown", "Mailbox full", "Resolver error")[variant],
                "errortype": ("nouser", "full", "nohost")[variant],
            }
        elif kind == "unsubscribes":
            row["source"] = "link"
        elif kind == "abuses":
            row["report"] = {}
        return row | who
    row = {"ID": str(ident), "timestamp": stamp}
    if kind == "deliveries":
        row |= {"attempt": str(variant - 1), "smtp-response": "250 2.0.0 OK"}
    elif kind == "impressions":
        row |= {"ip": ip, "useragent": agent, "device": device, "referer": None}
    elif kind == "clicks":
        row = {
            "ID": str(ident),
            "link_id": str(3145 + variant),
            "link": link,
            "link_title": ("Offers", "Web version", "Café")[variant % 3],
            "timestamp": stamp,
            "ip": ip,
            "useragent": agent,
            "referer": None,
        }
    elif kind == "errors":
        row |= {
            "errorcode": ("5.1.1", "4.2.2", "5.1.2")[variant],
            "description": ("User unknown", "Mailbox full", "Resolver error: no mailservers")[
                variant
            ],
            "errortype": ("nouser", "full", "nohost")[variant],
            "errortypedescription": "Delivery failed",
        }
    elif kind == "unsubscribes":
        row |= {"source": "link", "success": True}
    elif kind == "abuses":
        row |= {
            "recognized_as": "arf",
            "feedback_type": "abuse",
            "arf_version": "0.1",
            "details": "",
        }
    return row | {"emailing": str(mailing)} | who

"""What the sandbox's people are made of: names and places, the database catalogue
(:data:`DATABASE_SPECS`: databases, their fields, interests and collections; data, not code
paths) and the field value generators (:data:`GENERATORS`), and the field lists' shapes.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from airflow_provider_copernica.sandbox.timeutil import DAY, fmt_naive

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
INTERESTS: tuple[tuple[str, str], ...] = (
    ("soccer", "sports"),
    ("baseball", "sports"),
    ("tennis", "sports"),
)
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


def random_words(rng: random.Random, count: int) -> array:
    """``count`` random 32-bit unsigned integers."""
    words = array("I")
    if words.itemsize == 4:
        words.frombytes(rng.randbytes(4 * count))
        return words
    return array("L", (rng.getrandbits(32) for _ in range(count)))  # exotic platforms


def field_defs(fields: Sequence[tuple[str, str, str]], first_id: int) -> list[dict[str, Any]]:
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


def list_envelope(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"start": 0, "limit": 1000, "count": len(items), "data": items, "total": len(items)}

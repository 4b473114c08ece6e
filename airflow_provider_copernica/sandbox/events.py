"""The sandbox's events and destinations: what their rows look like per product, and how a
destination's events are drawn (deliveries, impressions, clicks, errors, unsubscribes and
abuses, at realistic rates and delays). :class:`~.emailings.Emailings` generates them.
"""

from __future__ import annotations

import random
from typing import Any

from airflow_provider_copernica.sandbox.timeutil import DAY, fmt_local

EVENT_KINDS = ("deliveries", "impressions", "clicks", "errors", "unsubscribes", "abuses")
# A drawn event: (moment, mailing, destination, profile, subprofile, variant)
RawEvents = dict[str, list[tuple[Any, ...]]]


def scale_clicks(clicks: list[tuple[Any, ...]], target: int | None, seed: str) -> None:
    """``events=N``: add repeat clicks until there are N (their own random generator, seeded
    with ``seed``; profiles, emailings, destinations, deliveries and impressions stay as
    without it)."""
    if not target or not clicks:
        return
    rng = random.Random(seed)
    natural = len(clicks)
    for _ in range(target - natural):
        moment, *rest = clicks[rng.randrange(natural)]
        clicks.append((moment + rng.randint(5, 3 * 3600), *rest))


def destination_events(
    rng: random.Random,
    raw: RawEvents,
    mailing: int,
    dest: int,
    sent: int,
    profile: int,
    subprofile: int | None,
) -> None:
    """Draw the events of one destination (one message sent) into ``raw``."""
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


def destination_row(
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


def event_row(
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

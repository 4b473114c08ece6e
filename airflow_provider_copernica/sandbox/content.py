"""The sandbox's content: templates, documents, scheduled emailings and coupon campaigns
(with their coupons), and what an emailing's snapshot and hyperlink extensions show, with
their endpoints.

Templates and documents have a hidden creation/modification time (around the autumn DST
day) that only their lists' time filters read, as on the live API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_copernica.sandbox.emailings import Emailings
from airflow_provider_copernica.sandbox.protocol import PRODUCT, HTTPError, Query, Route, page_of
from airflow_provider_copernica.sandbox.timeutil import (
    DAY,
    TZ,
    fmt_local,
    local_midnight,
    local_naive,
    to_datetime,
)

DATASETS = ("templates", "documents", "scheduled_emailings", "coupon_campaigns", "coupons")
COUPONS_PER_CAMPAIGN = {1: 2345, 2: 40, 3: 0}
# The lists' time filters (lower, upper bound; both inclusive, naive local like every
# Copernica time): drag-and-drop templates by creation, html templates and documents by
# modification. The records themselves carry no time.
CONTENT_FILTERS: dict[tuple[str, str], tuple[str, str]] = {
    ("templates", "draganddrop"): ("created_after", "created_before"),
    ("templates", "html"): ("modifiedfromdate", "modifiedtodate"),
    ("documents", "html"): ("modifiedfromdate", "modifiedtodate"),
}


class Content:
    """The templates, documents, scheduled emailings and coupon campaigns of the account."""

    def __init__(self, *, span: tuple[int, int], dst_changes: Sequence[tuple[int, str]]) -> None:
        span_start, span_end = span
        autumn = [t for t, kind in dst_changes if kind == "autumn"]
        self.templates: dict[str, list[dict[str, Any]]] = {
            "draganddrop": [
                {
                    "id": str(t),
                    "name": f"Theme {t}",
                    "from_address": {"name": "Sandbox Shop", "email": "news@example.com"},
                    "subject": f"Newsletter theme {t}",
                    "type": "json" if t % 2 else "html",
                    "archived": t == 583,
                    "directory": str(78 + t % 2),
                }
                for t in range(579, 584)
            ],
            "html": [
                {"id": str(t), "name": f"Publisher template {t}", "archived": t == 583}
                for t in range(579, 584)
            ],
        }
        self.documents: list[dict[str, Any]] = [
            {
                "id": str(d),
                "template": str(579 + d % 4),
                "name": f"Document {d}",
                "from_address": '"Sandbox Shop" <news@example.com>',
                "subject": f"Document {d}",
                "archived": 1 if d == 117 else None,
                "source": f"<html><body>Document {d}</body></html>",
            }
            for d in range(114, 118)
        ]
        self.content_times = self._content_times(autumn[-1] if autumn else span_end - DAY)
        soon = span_end + 3 * 3600
        autumn_local = fmt_local(autumn[-1] - 1800) if autumn else fmt_local(soon)
        target = {"type": "database", "sources": [{"id": "7616", "type": "database"}]}
        sender = {"name": "Sandbox Shop", "email": "news@example.com"}
        self.scheduled: dict[str, list[dict[str, Any]]] = {
            "draganddrop": [
                {
                    "id": str(1742 + k),
                    "start": autumn_local if k == 0 else fmt_local(soon - k * 7 * DAY),
                    "rrule": ("FREQ=DAILY;COUNT=2", "FREQ=WEEKLY", "FREQ=MONTHLY")[k],
                    "template": str(579 + k),
                    "next": fmt_local(soon + k * DAY),
                    "previous": autumn_local if k == 0 else fmt_local(soon - DAY),
                    "subject": f"Scheduled {k + 1}",
                    "from_address": sender,
                    "type": "mass",
                    "target": target,
                }
                for k in range(3)
            ],
            "html": [
                {
                    "id": str(456 + k),
                    "next": fmt_local(soon + k * DAY),
                    "previous": autumn_local,
                    "interval": {"count": 1, "unit": ("day", "week")[k]},
                    "iterations": -1 if k == 0 else 10,
                    "processed_iterations": str(168 + k),
                    "scheduled_iterations": "-1" if k == 0 else "3",
                    "document": 114 + k,
                    "template": 579 + k,
                    "subject": f"Reminder {k + 1}",
                    "from_address": sender,
                    "testgroups": 0,
                    "emailing_type": "normal",
                    "contenttype": "both",
                    "target": target,
                }
                for k in range(2)
            ],
        }
        self.campaigns: list[dict[str, Any]] = []
        self.coupons: dict[int, list[dict[str, Any]]] = {}
        coupon_id = 8
        for campaign, count in COUPONS_PER_CAMPAIGN.items():
            rows = []
            for k in range(count):
                status = ("available", "sent", "sent", "redeemed")[k % 4]
                rows.append(
                    {
                        "ID": str(coupon_id),
                        "code": f"C{campaign}-{coupon_id:06X}",
                        "validfrom": fmt_local(span_start + k * 3600),
                        "validuntil": "" if k % 3 else fmt_local(span_end + 30 * DAY),
                        "status": status,
                    }
                )
                coupon_id += 1
            self.coupons[campaign] = rows
            self.campaigns.append(
                {
                    "ID": str(campaign),
                    "name": f"Campaign {campaign}",
                    "code": f"Campaign {campaign}",
                    "description": f"Coupon campaign {campaign}",
                    "archived": campaign == 3,
                    "available": sum(r["status"] == "available" for r in rows),
                    "sent": sum(r["status"] == "sent" for r in rows),
                    "redeemed": sum(r["status"] == "redeemed" for r in rows),
                    "tags": ["discount", f"c{campaign}"] if campaign != 2 else [],
                }
            )

    def _content_times(self, change: int) -> dict[tuple[str, str], dict[int, int]]:
        """(dataset, product) -> id -> the UTC epoch its list's time filter reads: around
        the local day of the autumn DST change (its first and last second, both 02:30s)."""
        day = to_datetime(change).astimezone(TZ).date()
        start = local_midnight(day)  # the local day is 25 hours long
        end = start + 25 * 3600
        offsets = {
            ("templates", "draganddrop"): [
                start - DAY // 2,
                start,
                change - 1800,
                change + 1800,
                end,
            ],
            ("templates", "html"): [start - 1, start + 3600, change + 1800, end - 1, end + DAY],
            ("documents", "html"): [start - 7200, change - 1800, end - 1, end],
        }
        times = {}
        for (dataset, product), moments in offsets.items():
            records = self.documents if dataset == "documents" else self.templates[product]
            times[(dataset, product)] = {
                int(r["id"]): moment for r, moment in zip(records, moments, strict=True)
            }
        return times

    def content(
        self, dataset: str, product: str, low: int | None, high: int | None
    ) -> list[dict[str, Any]]:
        """The templates/documents whose time (naive local) is within ``[low, high]``."""
        records = self.documents if dataset == "documents" else self.templates[product]
        if low is None and high is None:
            return list(records)
        times = self.content_times[(dataset, product)]

        def within(moment: int) -> bool:
            naive = local_naive(moment)
            return (low is None or naive >= low) and (high is None or naive <= high)

        return [r for r in records if within(times[int(r["id"])])]

    def emailing_name(self, product: str, ident: int) -> str:
        """The name an emailing's snapshot shows (the lists do not carry it)."""
        return f"{'Campaign' if product == 'draganddrop' else 'Mailing'} {ident}"

    def hyperlink_extensions(self, product: str, ident: int) -> Any:
        utm = {"utm_source": "copernica", "utm_medium": "email", "utm_campaign": f"m{ident}"}
        if product == "html":
            return {"all": utm, "example.com": {**utm, "utm_content": "link"}}
        return {
            "data": [
                {
                    "parameter": name,
                    "value": value,
                    "type": "setparameter",
                    "last": False,
                    "unique": False,
                    "checks": [],
                }
                for name, value in utm.items()
            ]
        }

    # -- ground truth ----------------------------------------------------------------------

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]] | None:
        """Every record of a content list as the API renders it (None: not one of them)."""
        product = options.get("product") or "draganddrop"
        if dataset == "templates":
            return list(self.templates[product])
        if dataset == "documents":
            return list(self.documents)
        if dataset == "scheduled_emailings":
            return list(self.scheduled[product])
        if dataset == "coupon_campaigns":
            return list(self.campaigns)
        if dataset == "coupons":
            return list(self.coupons.get(int(options.get("couponcampaign_id", 1)), []))
        return None

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Snapshots (all records), or the templates/documents whose hidden time is in
        ``[lo, hi)`` with ``created_in_interval``/``modified_in_interval``."""
        product = options.get("product") or "draganddrop"
        windowed = ("created_in_interval", "modified_in_interval")
        if (dataset, product) in self.content_times and any(
            str(options.get(o)).lower() == "true" for o in windowed
        ):
            times = self.content_times[(dataset, product)]
            return sorted(i for i, moment in times.items() if lo <= moment < hi)
        records = self.records(dataset, **options)
        if records is None:
            return None
        return sorted(int(r["ID"] if "ID" in r else r["id"]) for r in records)


def routes(content: Content, mailings: Emailings) -> list[Route]:
    """The endpoints of templates, documents, scheduled emailings, coupons, and the
    emailings' snapshots and hyperlink extensions."""

    def listed(query: Query, dataset: str, product: str) -> list[dict[str, Any]]:
        # the other product's parameter names are unknown there, so silently ignored
        low, high = CONTENT_FILTERS[(dataset, product)]
        return content.content(dataset, product, query.naive(low), query.naive(high))

    def templates(query: Query, product: str) -> Any:
        return page_of(listed(query, "templates", product), query)

    def documents(query: Query, product: str) -> Any:
        if product != "html":
            raise HTTPError(400, "Invalid method")
        rows = listed(query, "documents", product)
        if not query.boolean("source", True):
            rows = [{k: v for k, v in r.items() if k != "source"} for r in rows]
        return page_of(rows, query)

    def template_documents(query: Query, product: str, ident: str) -> Any:
        # not a catalog dataset: the generic endpoint's example of a list the catalog lacks
        if product != "html":
            raise HTTPError(400, "Invalid method")
        if not any(t["id"] == ident for t in content.templates["html"]):
            raise HTTPError(400, "No template with supplied ID")
        return page_of([d for d in content.documents if d["template"] == ident], query)

    def scheduled(query: Query, product: str) -> Any:
        return page_of(content.scheduled[product], query)

    def campaigns(query: Query) -> Any:
        return page_of(content.campaigns, query)

    def coupons(query: Query, ident: str) -> Any:
        try:
            found = content.coupons.get(int(ident))
        except ValueError:
            found = None
        if found is None:
            raise HTTPError(400, "No couponcampaign with supplied ID")
        return page_of(found, query)

    def snapshot(query: Query, product: str, mailing: str) -> Any:
        index = mailings.mailing_index(product, mailing)
        row = mailings.emailings[product].rows[index]
        return {
            "template": row.get("template"),
            "name": content.emailing_name(product, int(mailing)),
            "from_address": f'"{row["from_address"]["name"]}" <{row["from_address"]["email"]}>',
            "subject": row.get("subject"),
        }

    def extensions(query: Query, product: str, mailing: str) -> Any:
        mailings.mailing_index(product, mailing)
        return content.hyperlink_extensions(product, int(mailing))

    mailing = PRODUCT + r"/emailing/(?P<mailing>[^/]+)"
    return [
        (PRODUCT + r"/templates", templates),
        (PRODUCT + r"/documents", documents),
        (PRODUCT + r"/template/(?P<ident>[^/]+)/documents", template_documents),
        (PRODUCT + r"/scheduledemailings", scheduled),
        (r"couponcampaigns", campaigns),
        (r"couponcampaign/(?P<ident>[^/]+)/coupons", coupons),
        (mailing + r"/snapshot", snapshot),
        (mailing + r"/hyperlinkextensions", extensions),
    ]

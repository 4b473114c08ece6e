"""Statistics in the sandbox: an emailing's counts (totals and unique destinations per event
kind, and each destination's dominant result) over its events, and a template's or
document's sums over the emailings that used it, with their endpoints and ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_copernica.sandbox.content import Content
from airflow_provider_copernica.sandbox.emailings import Emailings
from airflow_provider_copernica.sandbox.events import EVENT_KINDS
from airflow_provider_copernica.sandbox.protocol import (
    PRODUCT,
    HTTPError,
    Listing,
    Query,
    Route,
    normalise_product,
)
from airflow_provider_copernica.sandbox.tables import Table

DATASETS = ("emailing_statistics", "template_statistics", "document_statistics")
# Which events count: (events table, row index) -> True to count it
Within = Callable[[Table, int], bool]


def in_window(lo: int, hi: int) -> Within:
    """Events whose true UTC instant is in ``[lo, hi)``."""
    return lambda table, i: lo <= table.ts[i] < hi


class Statistics:
    """The statistics of the emailings, templates and documents."""

    def __init__(self, mailings: Emailings, content: Content) -> None:
        self.mailings = mailings
        self.content = content

    def emailing(
        self, product: str, mailing: int, within: Within | None = None
    ) -> dict[str, Any] | None:
        """Statistics of one emailing over events whose row index passes ``within``."""
        mails = self.mailings.emailings[product]
        index = mails.index_of(mailing)
        if index is None:
            return None
        rows = self.mailings.emailing_events.get((product, mailing), {})
        stats: dict[str, Any] = {"destinations": mails.rows[index]["destinations"]}
        dominant: dict[int, str] = {}
        priority = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
        for kind in priority:
            table = self.mailings.events[(product, kind)]
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

    def of_content(self, product: str, ident: int, within: Within | None) -> dict[str, Any]:
        """A template's (draganddrop) or document's (html) statistics: the sums over the
        emailings that used it."""
        column = "template" if product == "draganddrop" else "document"
        mails = self.mailings.emailings[product]
        totals: dict[str, Any] = {"destinations": 0}
        kinds = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
        for kind in kinds:
            totals[kind] = {"total": 0} if kind == "deliveries" else {"total": 0, "unique": 0}
        totals["retries"] = {"total": 0}
        totals["unknown"] = {"total": 0}
        for i in mails.alive():
            if str(mails.rows[i].get(column)) != str(ident):
                continue
            stats = self.emailing(product, mails.ids[i], within) or {}
            totals["destinations"] += int(stats.get("destinations") or 0)
            for kind in kinds:
                for name in totals[kind]:
                    totals[kind][name] += int(stats.get(kind, {}).get(name) or 0)
        return totals

    # -- ground truth ----------------------------------------------------------------------

    def in_window(self, lo: int, hi: int, product: str) -> dict[int, dict[str, Any]]:
        """Emailing id -> statistics (API shape) of its events in ``[lo, hi)`` UTC."""
        within = in_window(lo, hi)
        return {
            ident: self.emailing(product, ident, within) or {}
            for ident in self.mailings.emailings[product].ids
        }

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]] | None:
        """``emailing_statistics``: every emailing's all-time statistics (None: another)."""
        if dataset != "emailing_statistics":
            return None
        product = normalise_product(options.get("product"))
        return [
            {"id": str(i), **(self.emailing(product, i) or {})}
            for i in self.mailings.emailings[product].ids
        ]

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """The emailings (templates, documents) with at least one event in ``[lo, hi)``."""
        if dataset == "emailing_statistics":
            stats = self.in_window(lo, hi, normalise_product(options.get("product")))
            return sorted(
                i for i, s in stats.items() if any(s[k]["total"] for k in EVENT_KINDS if k in s)
            )
        if dataset not in ("template_statistics", "document_statistics"):
            return None
        product = "draganddrop" if dataset == "template_statistics" else "html"
        items = (
            self.content.templates[product] if product == "draganddrop" else self.content.documents
        )
        found = []
        for item in items:
            totals = self.of_content(product, int(item["id"]), in_window(lo, hi))
            if any(totals[k]["total"] for k in totals if k not in ("destinations", "unknown")):
                found.append(int(item["id"]))
        return sorted(found)


def routes(statistics: Statistics, listing: Listing) -> list[Route]:
    """The statistics endpoints of emailings, templates and documents."""

    def within(query: Query) -> Within:
        low, high = query.naive("begintime"), query.naive("endtime")
        hidden = listing.hidden()

        def test(table: Table, i: int) -> bool:
            if hidden is not None and table.ts[i] >= hidden:
                return False
            lts = table.lts[i]
            return (low is None or lts >= low) and (high is None or lts <= high)

        return test

    def emailing(query: Query, product: str, mailing: str) -> Any:
        statistics.mailings.mailing_index(product, mailing)
        return statistics.emailing(product, int(mailing), within(query))

    def content(query: Query, product: str, what: str, ident: str) -> Any:
        if (what == "template") != (product == "draganddrop"):
            raise HTTPError(400, "Invalid method")
        pool = statistics.content
        items = pool.templates[product] if what == "template" else pool.documents
        if not any(item["id"] == ident for item in items):
            raise HTTPError(400, f"No {what} with supplied ID")
        return statistics.of_content(product, int(ident), within(query))

    return [
        (PRODUCT + r"/emailing/(?P<mailing>[^/]+)/statistics", emailing),
        (PRODUCT + r"/(?P<what>template|document)/(?P<ident>[^/]+)/statistics", content),
    ]

"""The raw baseline: the same page requests the operator sends, in a plain loop.

One ``requests.Session``, one JWT, bodies parsed only as far as paging needs (``orjson``, to
read the page length and the last id) and then discarded. Whatever the operator spends beyond
this is the provider's own overhead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import requests

Params = list[tuple[str, str]]


@dataclass
class RawResult:
    records: int
    pages: int
    last_id: int | None


def fetch_jwt(session: requests.Session, auth_url: str, access_token: str) -> str:
    response = session.post(auth_url, data={"access_token": access_token}, timeout=60)
    response.raise_for_status()
    text = response.text.strip()
    if text.startswith("{"):
        body = orjson.loads(text)
        text = next(body[k] for k in ("token", "access_token", "jwt") if k in body)
    return text.strip('"')


def _record_id(record: dict) -> int:
    return int(record.get("ID", record.get("id")))


def _paging_params(paging: str, pages: int, last: int, page_size: int) -> Params:
    """The operator's paging parameters for the next page: keyset or offset."""
    if paging == "keyset":  # orderby=id&order=asc&fields[]=id>{last}
        return [("orderby", "id"), ("order", "asc"), ("fields[]", f"id>{last}")]
    return [("start", str(pages * page_size))]


def fetch_pages(
    session: requests.Session,
    url: str,
    params: Sequence[tuple[str, str]],
    paging: str,
    page_size: int,
    max_pages: int | None = None,
) -> RawResult:
    """Every page (``limit=page_size&total=false``), stopping on a short page."""
    records = pages = last = 0
    while True:
        query: Params = [
            *params,
            *_paging_params(paging, pages, last, page_size),
            ("limit", str(page_size)),
            ("total", "false"),
        ]
        response = session.get(url, params=query, timeout=60)
        response.raise_for_status()
        data = orjson.loads(response.content)["data"]
        pages += 1
        records += len(data)
        if data:
            last = _record_id(data[-1])
        if len(data) < page_size or pages == max_pages:
            return RawResult(records, pages, last or None)


def run_raw(
    base_url: str,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    auth_url: str,
    access_token: str,
    paging: str,
    page_size: int = 1000,
    max_pages: int | None = None,
) -> RawResult:
    """One JWT, then every page of ``base_url/path`` with ``paging`` 'keyset' or 'offset'."""
    with requests.Session() as session:
        jwt = fetch_jwt(session, auth_url, access_token)
        session.headers["Authorization"] = f"Bearer {jwt}"
        url = f"{base_url.rstrip('/')}/{path.lstrip('/')}"
        return fetch_pages(session, url, params, paging, page_size, max_pages)

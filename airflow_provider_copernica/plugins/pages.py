"""The plugin's HTML: one small page, no scripts, every value escaped."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID
from airflow_provider_copernica.plugins.session import Outcome

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
p.lead { color: #4a5568; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .5rem .75rem; border-bottom: 1px solid #e2e8f0; }
th { background: #f7fafc; font-weight: 600; }
.ok { color: #276749; } .bad { color: #9b2c2c; }
.banner { padding: .75rem 1rem; border-radius: .375rem; margin: 0 0 1rem; }
.banner.ok { background: #f0fff4; border: 1px solid #9ae6b4; }
.banner.bad { background: #fff5f5; border: 1px solid #feb2b2; }
button { background: #0e7490; color: white; border: 0; border-radius: .375rem;
         padding: .4rem .9rem; cursor: pointer; font-size: .9rem; white-space: nowrap; }
input { padding: .35rem .5rem; border: 1px solid #cbd5e0; border-radius: .375rem; }
form.inline { display: inline; margin: 0; }
"""


@dataclass(frozen=True)
class ConnectionRow:
    """One Copernica connection as listed: its account check and whether its token works."""

    conn_id: str
    host: str
    works: bool
    status: str


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _banner(outcome: Outcome | None) -> str:
    if outcome is None:
        return ""
    kind = "ok" if outcome.ok else "bad"
    return f'<div class="banner {kind}" role="status" id="outcome">{escape(outcome.message)}</div>'


def _authorize_form(conn_id: str, label: str, action: str) -> str:
    return (
        f'<form class="inline" method="post" action="{escape(action)}">'
        f'<input type="hidden" name="conn_id" value="{escape(conn_id)}">'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def connections_page(
    rows: list[ConnectionRow],
    outcome: Outcome | None,
    authorize_action: str,
    can_edit: bool,
    airflow_url: str,
) -> str:
    """The list of Copernica connections with an Authorize button per row and for a new one."""
    if rows:
        lines = []
        for row in rows:
            kind = "ok" if row.works else "bad"
            button = (
                _authorize_form(row.conn_id, "Re-authorize", authorize_action) if can_edit else ""
            )
            lines.append(
                f'<tr data-conn-id="{escape(row.conn_id)}"><td><code>{escape(row.conn_id)}</code></td>'
                f"<td>{escape(row.host)}</td>"
                f'<td class="{kind}">{escape(row.status)}</td><td>{button}</td></tr>'
            )
        table = (
            "<table><thead><tr><th>Connection</th><th>API</th><th>Account / token</th>"
            f"<th></th></tr></thead><tbody>{''.join(lines)}</tbody></table>"
        )
    else:
        table = "<p>No Copernica connections yet.</p>"
    new = ""
    suggested = "" if any(r.conn_id == DEFAULT_CONN_ID for r in rows) else DEFAULT_CONN_ID
    if can_edit:
        new = (
            '<h2 style="font-size:1.1rem">Authorize a new connection</h2>'
            f'<form method="post" action="{escape(authorize_action)}">'
            f'<label>Connection id <input name="conn_id" value="{suggested}" '
            'pattern="[A-Za-z0-9_.\\-]{1,250}" required></label> '
            '<button type="submit">Authorize</button></form>'
        )
    return _document(
        "Copernica",
        f'<p><a href="{escape(airflow_url)}">&larr; Airflow</a></p><h1>Copernica</h1>'
        '<p class="lead">Grant Airflow access to a Copernica account: Authorize opens '
        "Copernica's consent page and stores the access token in the connection.</p>"
        f"{_banner(outcome)}{table}{new}",
    )


def message_page(title: str, message: str, back_url: str) -> str:
    """A refusal outside the list page (e.g. a user who may not edit connections)."""
    return _document(
        title,
        f'<h1>{escape(title)}</h1><div class="banner bad" role="status" id="outcome">'
        f'{escape(message)}</div><p><a href="{escape(back_url)}">'
        "Back to the Copernica page</a></p>",
    )

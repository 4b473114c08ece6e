"""The ``copernica`` command: authorize, test-connection, datasets, preview, sandbox.

This module only parses arguments: each subcommand's parser names its handler with
``set_defaults(handler=...)``; the handlers live in :mod:`~airflow_provider_copernica.cli.commands`
(and the sandbox's in :mod:`~airflow_provider_copernica.sandbox.server`), imported when run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID

Handler = Callable[[argparse.Namespace], int]


def _handler(module: str, name: str) -> Handler:
    """A handler that imports ``module`` only when its subcommand runs."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)

    run.__qualname__ = f"{module}.{name}"
    return run


_COMMANDS = "airflow_provider_copernica.cli.commands"


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _add_conn_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--conn-id",
        default=DEFAULT_CONN_ID,
        help=f"Airflow connection to use (default: {DEFAULT_CONN_ID}); looked up in "
        "AIRFLOW_CONN_* variables, the secrets backends, then the metadata DB.",
    )


def _add_dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--option",
        dest="options",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="Dataset option, e.g. database_id=7616, collection_id=42 or product=html "
        "(repeatable; checked against the dataset's options).",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="copernica", description="Copernica provider for Apache Airflow."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "authorize",
        help="Run the OAuth handshake for a registered Copernica app and store the token.",
    )
    p.add_argument("--client-id", required=True, help="The app's client id (client key).")
    p.add_argument(
        "--client-secret",
        help="The app's client secret (default: $COPERNICA_CLIENT_SECRET; never echoed).",
    )
    p.add_argument(
        "--port", type=int, default=8765, help="Local callback port on 127.0.0.1 (default 8765)."
    )
    _add_conn_id(p)
    p.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="Print an AIRFLOW_CONN_<ID> value instead of storing the connection.",
    )
    p.add_argument(
        "--no-browser", action="store_true", help="Only print the URL to open, do not open it."
    )
    p.add_argument(
        "--timeout", type=float, default=300, help="Seconds to wait for the callback (300)."
    )
    p.set_defaults(handler=_handler(_COMMANDS, "authorize_command"))

    p = sub.add_parser("test-connection", help="Call /identity with the Airflow connection.")
    _add_conn_id(p)
    p.set_defaults(handler=_handler(_COMMANDS, "test_connection_command"))

    p = sub.add_parser(
        "datasets", help="List datasets, one dataset's columns, or search the columns."
    )
    p.add_argument(
        "dataset", nargs="?", help="Show this dataset's columns (default: list all datasets)."
    )
    p.add_argument(
        "--search",
        metavar="TERM",
        help="List the datasets having a column (attribute or metric) whose name contains TERM.",
    )
    _add_dataset_options(p)
    _add_conn_id(p)
    p.add_argument(
        "--markdown",
        action="store_true",
        help="Print the catalog as the markdown table of docs/datasets.md.",
    )
    p.set_defaults(handler=_handler(_COMMANDS, "datasets_command"))

    p = sub.add_parser(
        "preview", help="Show the first rows of a dataset for a date range; writes nothing."
    )
    p.add_argument("dataset", help="Dataset to preview, e.g. clicks (see `copernica datasets`).")
    p.add_argument("--from", dest="date_from", help="Interval start (ISO date or datetime).")
    p.add_argument("--to", dest="date_to", help="Interval end, exclusive.")
    p.add_argument("--fields", help="Comma-separated columns (default: all).")
    p.add_argument(
        "--filter",
        dest="filters",
        action="append",
        metavar="CONDITION",
        help="A fields[] condition such as country==NL (repeat to AND several; profiles, "
        "subprofiles).",
    )
    p.add_argument("--limit", type=int, default=20, help="Rows to show (default 20).")
    _add_dataset_options(p)
    _add_conn_id(p)
    p.set_defaults(handler=_handler(_COMMANDS, "preview_command"))

    p = sub.add_parser("sandbox", help="Run the local Copernica API sandbox (127.0.0.1).")
    p.add_argument("--port", type=int, default=8900, help="Port to listen on (default 8900).")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to bind (default 127.0.0.1; 0.0.0.0 only inside a container).",
    )
    p.add_argument("--profiles", type=int, default=None, help="Number of seeded profiles.")
    p.add_argument("--seed", type=int, default=None, help="Seed of the generated data.")
    p.add_argument(
        "--events",
        type=int,
        default=None,
        metavar="N",
        help="Scale the event data to about N clicks per product (load tests; default: the "
        "natural volume, 2,000-4,000).",
    )
    p.add_argument(
        "--anchor",
        default=None,
        help="End date of the seeded data span, YYYY-MM-DD (default: today, UTC).",
    )
    p.add_argument(
        "--fault",
        dest="faults",
        action="append",
        default=[],
        metavar="SPEC",
        help="Fault to switch on, e.g. 429, 503:3, jwt_ttl:5, outage_after:10, latency:0.05.",
    )
    p.set_defaults(handler=_handler("airflow_provider_copernica.sandbox.server", "sandbox_command"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

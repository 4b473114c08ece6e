"""The ``copernica`` command: authorize, test-connection, datasets, preview, sandbox.

This module only parses arguments; each subcommand's work lives in the module that owns it
(imported lazily, so ``copernica --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="copernica", description="Copernica provider for Apache Airflow."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "authorize",
        help="Run the OAuth handshake for a registered Copernica app and store the token.",
    )
    p.add_argument("--client-id", required=True)
    p.add_argument(
        "--client-secret",
        help="The app's client secret (default: $COPERNICA_CLIENT_SECRET; never echoed).",
    )
    p.add_argument("--port", type=int, default=8765, help="Local callback port (127.0.0.1).")
    p.add_argument("--conn-id", default="copernica_default")
    p.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="Print an AIRFLOW_CONN_<ID> value instead of storing the connection.",
    )
    p.add_argument(
        "--no-browser", action="store_true", help="Only print the URL to open, do not open it."
    )
    p.add_argument("--timeout", type=float, default=300, help="Seconds to wait for the callback.")

    p = sub.add_parser("test-connection", help="Call /identity with the Airflow connection.")
    p.add_argument("--conn-id", default="copernica_default")

    p = sub.add_parser("datasets", help="List datasets, or one dataset's columns.")
    p.add_argument("dataset", nargs="?")
    p.add_argument("--database-id")
    p.add_argument("--collection-id")
    p.add_argument("--product")
    p.add_argument("--conn-id", default="copernica_default")

    p = sub.add_parser(
        "preview", help="Show the first rows of a dataset for a date range; writes nothing."
    )
    p.add_argument("dataset")
    p.add_argument("--from", dest="date_from", help="Interval start (ISO date or datetime).")
    p.add_argument("--to", dest="date_to", help="Interval end, exclusive.")
    p.add_argument("--fields", help="Comma-separated columns (default: all).")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument(
        "--option",
        dest="options",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="Dataset option, e.g. database_id=7616 or product=html (repeatable).",
    )
    p.add_argument("--conn-id", default="copernica_default")

    p = sub.add_parser("sandbox", help="Run the local Copernica API sandbox (127.0.0.1).")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to bind (default 127.0.0.1; 0.0.0.0 only inside a container).",
    )
    p.add_argument("--profiles", type=int, default=None, help="Number of seeded profiles.")
    p.add_argument("--seed", type=int, default=None)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "authorize":
        from airflow_provider_copernica.auth import authorize_command

        return authorize_command(args)
    if args.command == "test-connection":
        from airflow_provider_copernica.hooks.copernica import test_connection_command

        return test_connection_command(args)
    if args.command in ("datasets", "preview"):
        from airflow_provider_copernica import preview

        return (
            preview.datasets_command(args)
            if args.command == "datasets"
            else (preview.preview_command(args))
        )
    from airflow_provider_copernica.sandbox.server import sandbox_command

    return sandbox_command(args)


if __name__ == "__main__":
    sys.exit(main())

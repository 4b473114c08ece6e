"""The ``copernica`` command: ``arguments`` parses, ``commands`` does the work."""

from airflow_provider_copernica.cli.arguments import main

__all__ = ["main"]

"""``python -m airflow_provider_copernica.cli``."""

from airflow_provider_copernica.cli.arguments import main

raise SystemExit(main())

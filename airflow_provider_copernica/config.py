"""Kept importable for DAGs written against the flat layout: this is :mod:`airflow_provider_copernica.client.settings`.

``import airflow_provider_copernica.config`` gives that module itself, so every name it has is here too.
"""

import sys

from airflow_provider_copernica.client import settings as _module

sys.modules[__name__] = _module

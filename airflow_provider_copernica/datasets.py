"""Kept importable for DAGs written against the flat layout: this is :mod:`airflow_provider_copernica.catalog.datasets`.

``import airflow_provider_copernica.datasets`` gives that module itself, so every name it has is here too.
"""

import sys

from airflow_provider_copernica.catalog import datasets as _module

sys.modules[__name__] = _module

"""Kept importable for DAGs written against the flat layout: this is :mod:`airflow_provider_copernica.engine.preview`.

``import airflow_provider_copernica.preview`` gives that module itself, so every name it has is here too.
"""

import sys

from airflow_provider_copernica.engine import preview as _module

sys.modules[__name__] = _module

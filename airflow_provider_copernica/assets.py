"""Kept importable for DAGs written against the flat layout: this is :mod:`airflow_provider_copernica.output.assets`.

``import airflow_provider_copernica.assets`` gives that module itself, so every name it has is here too.
"""

import sys

from airflow_provider_copernica.output import assets as _module

sys.modules[__name__] = _module

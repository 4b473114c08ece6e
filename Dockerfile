# The Airflow image used by docker-compose.yaml: the official Airflow 3.3.2 image plus this
# provider (and pyarrow, for Parquet output). Build: docker compose build
FROM apache/airflow:3.3.2

COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-provider-copernica/
COPY --chown=airflow:root airflow_provider_copernica /opt/airflow-provider-copernica/airflow_provider_copernica

# Pinning apache-airflow to the image's version keeps pip from up- or downgrading Airflow.
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/airflow-provider-copernica[parquet]"

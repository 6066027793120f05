# syntax=docker/dockerfile:1
# One image for every Airflow 3 service and the `safelink` CLI: python:3.11-slim + the project (pip, pinned).
#   docker compose build                      (LocalExecutor stack, docker-compose.yml)
#   docker compose -f docker-compose.yml -f docker-compose.celery.yml build   (adds the Celery provider)
FROM python:3.11-slim

ARG AIRFLOW_UID=50000
# Extra pip requirements, e.g. the Celery provider for docker-compose.celery.yml.
ARG EXTRA_PIP=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    SAFELINK_HOME=/opt/safelink \
    SAFELINK_CONFIG=/opt/safelink/config \
    PATH=/home/airflow/.local/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid "${AIRFLOW_UID}" --gid 0 --create-home --home-dir /home/airflow airflow \
 && mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins /data/landing /data/output \
 && chown -R "${AIRFLOW_UID}:0" /opt/airflow /data && chmod -R g+rwX /opt/airflow /data

WORKDIR /opt/safelink
# Dependencies first (cached layer): the pinned list from pyproject.toml, installed with an empty package.
COPY pyproject.toml README.md ./
RUN mkdir -p ground landing checks linkage alerts report safelink synth evaluation caseview \
 && for p in ground landing checks linkage alerts report safelink synth evaluation caseview; do touch "$p/__init__.py"; done \
 && pip install . ${EXTRA_PIP} \
 && pip uninstall -y safeguarding-linkage \
 && rm -rf ground landing checks linkage alerts report safelink synth evaluation caseview build *.egg-info

# The project itself (editable, so config/ and templates resolve from /opt/safelink).
COPY ground ./ground
COPY landing ./landing
COPY checks ./checks
COPY linkage ./linkage
COPY alerts ./alerts
COPY report ./report
COPY safelink ./safelink
COPY synth ./synth
COPY evaluation ./evaluation
COPY caseview ./caseview
COPY config ./config
COPY dags /opt/airflow/dags
RUN pip install --no-deps -e . && chown -R "${AIRFLOW_UID}:0" /opt/safelink

USER ${AIRFLOW_UID}
WORKDIR /opt/airflow
ENTRYPOINT ["/usr/bin/tini", "--", "airflow"]
CMD ["version"]

# Airflow image for ticket-triage-airflow, built by docker-compose.yaml (`build: .`).
# The Airflow version in this tag must equal the `apache-airflow==` pin in requirements.txt
# (tests/deploy/test_docker_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

# litellm must use its bundled model cost map instead of downloading it when imported.
ENV LITELLM_LOCAL_MODEL_COST_MAP=True

# Runtime pins first, so that editing the provider code does not reinstall every dependency.
# The base image runs pip as the `airflow` user (PIP_USER=true), as the Airflow image docs require;
# requirements.txt pins apache-airflow itself, so pip cannot up- or downgrade Airflow.
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt

# The local provider "ticket-triage-llm-operators" (plugins/llm_operators, declared in pyproject.toml):
# installing it registers the `litellm` connection type. Its dependencies are pinned above.
# The build directory is created by the airflow user, so that pip can build in it and remove it.
# At runtime ./plugins is also mounted at /opt/airflow/plugins, but Python imports the installed copy
# first: rebuild the image (`docker compose build`) after changing plugins/llm_operators.
RUN mkdir -p /tmp/ticket-triage-build
COPY --chown=airflow:0 pyproject.toml /tmp/ticket-triage-build/
COPY --chown=airflow:0 plugins/ /tmp/ticket-triage-build/plugins/
RUN cd /tmp/ticket-triage-build \
    && pip install --no-cache-dir --no-deps ./ \
    && cd / \
    && rm -rf /tmp/ticket-triage-build

# Source me: `source scripts/env.sh`. The project-local Airflow environment used by `make demo`,
# `make test` and by hand (`airflow dags test ticket_triage 2025-10-01`, `airflow standalone`).
_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME_OVERRIDE:-$_here/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$_here/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_here/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export LITELLM_LOCAL_MODEL_COST_MAP=True
# The demo and the tests choose the offline models explicitly (no key, no network); a connection
# already in the environment wins. A deployment with no litellm connection fails instead.
_offline='{"conn_type": "litellm", "extra": {"offline": true}}'
export AIRFLOW_CONN_LITELLM_DEFAULT="${AIRFLOW_CONN_LITELLM_DEFAULT:-$_offline}"
export TRIAGE_OUTPUT_ROOT="${TRIAGE_OUTPUT_ROOT:-$_here/output}"
export PATH="$_here/.venv/bin:$PATH"
# tools/ holds test and rehearsal tools that are not product (`python -m chaos_provider --help`).
export PYTHONPATH="$_here/tools${PYTHONPATH:+:$PYTHONPATH}"
unset _here _offline

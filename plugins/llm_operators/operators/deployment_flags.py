"""Opt-ins that relax a safety default of a deployment, read from Airflow Variables.

Each is off unless set to true, as an Airflow Variable or as its environment form
(`AIRFLOW_VAR_<NAME>`, which Airflow reads before the metadata DB):

- `triage_allow_memory_ledger`: real Slack/Jira/webhook actions may run with the in-process
  side-effect ledger when no Redis connection exists (a retried task may then repeat an action);
- `triage_allow_offline_delivery`: replies written by the offline model may go to a real channel
  (a reply webhook or Jira); otherwise they stay in the outbox as `held`.
"""

from __future__ import annotations

from airflow.sdk import Variable

from llm_operators.operators.params import as_bool

ALLOW_MEMORY_LEDGER = "triage_allow_memory_ledger"
ALLOW_OFFLINE_DELIVERY = "triage_allow_offline_delivery"


def flag(name: str) -> bool:
    return as_bool(Variable.get(name, default=None) or False)


def allow_memory_ledger() -> bool:
    return flag(ALLOW_MEMORY_LEDGER)


def allow_offline_delivery() -> bool:
    return flag(ALLOW_OFFLINE_DELIVERY)

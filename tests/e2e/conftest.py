"""A throwaway Airflow for end-to-end runs: its own AIRFLOW_HOME (SQLite) and output root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_operators.get_provider_info import CONN_FIELDS

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
# The offline models, chosen explicitly as a deployment would: without a litellm connection the
# triage task fails. Saved the way the UI's connection form saves it (the "Offline" switch ticked,
# every other field of the form left empty, stored as null), so every e2e day runs on a form-saved
# connection. A test that wants real providers passes its own AIRFLOW_CONN_LITELLM_DEFAULT.
OFFLINE_LITELLM = json.dumps(
    {"conn_type": "litellm", "extra": {name: None for name in CONN_FIELDS} | {"offline": True}}
)


class AirflowEnv:
    def __init__(self, home: Path, output: Path) -> None:
        self.home, self.output = home, output
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "AIRFLOW_CONN_LITELLM_DEFAULT": OFFLINE_LITELLM,
                "TRIAGE_OUTPUT_ROOT": str(output),
                "TRIAGE_TASK_RETRIES": "0",  # a failing task fails the run now, not after backoff
            }
        )

    def run(
        self,
        *args: str,
        extra_env: dict[str, str | None] | None = None,
        timeout: int = 300,
        check: bool = True,
    ) -> str:
        """`extra_env` values of None remove the variable (e.g. to run with no litellm connection)."""
        env = {**self.env, **(extra_env or {})}
        result = subprocess.run(
            [AIRFLOW, *args],
            env={k: v for k, v in env.items() if v is not None},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        log = result.stdout + result.stderr
        if check:
            assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{log[-6000:]}"
        return log

    def dags_test(self, day: str, conf: dict | None = None, extra_env: dict[str, str] | None = None) -> str:
        args = ["dags", "test", "ticket_triage", day]
        if conf:
            args += ["-c", json.dumps(conf)]
        log = self.run(*args, extra_env=extra_env)
        assert "state=success" in log, log[-6000:]
        return log


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    root = tmp_path_factory.mktemp("airflow")
    env = AirflowEnv(root / "home", root / "output")
    env.run("db", "migrate")
    env.run("pools", "set", "llm_calls", "8", "LLM calls")
    return env

"""A real Airflow 3 on this machine: PostgreSQL metadata DB (its own database), api-server,
scheduler and dag-processor as separate processes (and the triggerer when asked: deferrable tasks),
LocalExecutor or CeleryExecutor.

Used by tests/integration and by `make real-airflow`. Loopback only; every process is stopped and the
database dropped on exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from airflow_rest import AirflowRest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DEFAULT_COMPONENTS = ("api-server", "scheduler", "dag-processor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


class RealAirflow:
    def __init__(self, workdir: Path, env: dict[str, str], executor: str = "LocalExecutor") -> None:
        self.workdir = workdir
        self.db = f"triage_it_{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
        self.env.update(
            {
                "AIRFLOW_HOME": str(workdir / "home"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.db}",
                "AIRFLOW__CORE__EXECUTOR": executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "TRIAGE_OUTPUT_ROOT": str(workdir / "output"),
                "TRIAGE_TASK_RETRIES": "0",
                # the offline models, chosen explicitly as a deployment must (a test may override it)
                "AIRFLOW_CONN_LITELLM_DEFAULT": '{"conn_type": "litellm", "extra": {"offline": true}}',
            }
        )
        self.env.update(env)
        self.api = f"http://127.0.0.1:{self.port}/api/v2"

    # -- lifecycle ---------------------------------------------------------------------------
    def cli(self, *args: str, timeout: int = 180) -> str:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-4000:]}")
        return result.stdout

    def start(self, *components: str, triggerer: bool = False) -> RealAirflow:
        """`triggerer=True` also runs `airflow triggerer`: a deferred task waits forever without it."""
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        _pg(f'CREATE DATABASE "{self.db}"')
        self.cli("db", "migrate", timeout=300)
        self.cli("pools", "set", "llm_calls", "8", "LLM calls")
        names = list(components or DEFAULT_COMPONENTS)
        if triggerer and "triggerer" not in names:
            names.append("triggerer")
        for name in names:
            self.spawn(name, name.split())
        self.wait_for(lambda: self.get("/monitor/health") is not None, 90, "the api-server")
        return self

    def spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name.replace(' ', '_')}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        try:
            _pg(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except Exception as exc:  # keep teardown going; the name is random, nothing else uses it
            print(f"could not drop {self.db}: {exc}", file=sys.stderr)

    def __enter__(self) -> RealAirflow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.workdir.glob("*.log"))

    # -- REST ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        return AirflowRest(self.api).request(method, path, body)

    def get(self, path: str) -> Any:
        return AirflowRest(self.api).get_or_none(path)

    def wait_for(self, predicate, timeout: float, what: str, every: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) waiting for {what}\n{self.logs()}")
            value = predicate()
            if value:
                return value
            time.sleep(every)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n{self.logs()}")

    def dag_runs(self, dag_id: str = "ticket_triage") -> list[dict]:
        data = self.get(f"/dags/{dag_id}/dagRuns?limit=100&order_by=logical_date") or {}
        return data.get("dag_runs", [])

    def task_instances(self, run_id: str, dag_id: str = "ticket_triage") -> list[dict]:
        data = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100") or {}
        return data.get("task_instances", [])

    def task_log(
        self,
        run_id: str,
        task_id: str,
        *,
        try_number: int = 1,
        map_index: int | None = None,
        dag_id: str = "ticket_triage",
    ) -> str:
        """The log of one try as the UI shows it, an entry a line; structured entries as JSON (the message
        in "event", an exception's text in "error_detail")."""
        query = f"?map_index={map_index}" if map_index is not None else ""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}{query}"
        content = self.request("GET", path)["content"]
        return "\n".join(json.dumps(e) if isinstance(e, dict) else str(e) for e in content)

    def xcom(
        self, run_id: str, task_id: str, *, map_index: int | None = None, dag_id: str = "ticket_triage"
    ) -> Any:
        """The task's return value, deserialized (a value XCom holds as a JSON string is parsed too)."""
        query = "?deserialize=true" + (f"&map_index={map_index}" if map_index is not None else "")
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value{query}"
        value = self.get(path)["value"]
        return json.loads(value) if isinstance(value, str) else value

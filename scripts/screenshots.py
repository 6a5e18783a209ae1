"""Screenshots of the Airflow UI for docs/ui.md, taken by headless Chromium (selenium).

Starts `airflow standalone` on a free loopback port with a throwaway AIRFLOW_HOME and output root,
lets the schedule triage two sample days (offline models), triggers one run as the Trigger form does
by default (logical date now), then photographs the Trigger form, a finished run's graph, the day's
summary (the report task's XCom and the asset events), the mapped triage tasks labelled with their
day, and the form-default run failing with what to set. Every process it started is stopped at the
end (its whole process group).

    make screenshots            # writes docs/screenshots/*.png
    python scripts/screenshots.py --out /tmp/shots --keep   # keep the Airflow up to look around

Needs `chromium` and `chromium-driver` (Debian: `apt-get install -y chromium chromium-driver`) and
selenium (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_rest import AirflowRest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAYS = ("2025-10-01", "2025-10-02")  # the schedule's range here: two sample days, caught up on unpause
OFFLINE = '{"conn_type": "litellm", "extra": {"offline": true}}'
WIDTH, HEIGHT = 1600, 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standalone:
    """`airflow standalone` (SQLite, LocalExecutor) in its own process group on 127.0.0.1:<port>."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
        self.env.update(
            {
                "AIRFLOW_HOME": str(workdir / "home"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__BASE_URL": self.base,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW_CONN_LITELLM_DEFAULT": OFFLINE,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "TRIAGE_OUTPUT_ROOT": str(workdir / "output"),
                "TRIAGE_START_DATE": DAYS[0],
                "TRIAGE_END_DATE": DAYS[-1],
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if out.returncode:
            raise RuntimeError(f"airflow {' '.join(args)}:\n{(out.stdout + out.stderr)[-3000:]}")
        return out.stdout

    def start(self) -> None:
        (self.workdir / "home").mkdir(parents=True)
        self.cli("db", "migrate")
        self.cli("pools", "set", "llm_calls", "8", "LLM triage")
        log = (self.workdir / "standalone.log").open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the scheduler's workers too
        )
        self.wait(lambda: self.get("/api/v2/monitor/health"), 180, "the api-server")

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
        # children that outlived the leader (FACTS: SIGTERM can leave the scheduler's workers running)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        return AirflowRest(self.base).request(method, path, body)

    def get(self, path: str) -> Any:
        return AirflowRest(self.base).get_or_none(path)

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited waiting for {what}; see {self.workdir}")
            if value := predicate():
                return value
            time.sleep(2)
        raise TimeoutError(f"timed out waiting for {what}; see {self.workdir}/standalone.log")

    def runs(self) -> list[dict]:
        data = self.get("/api/v2/dags/ticket_triage/dagRuns?order_by=logical_date&limit=50") or {}
        return data.get("dag_runs", [])


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en-US"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts
    )


def settle(driver: Any, text: str | None = None, timeout: float = 30) -> None:
    """Wait for the React UI to render (and for `text` to appear), then for its spinners to stop."""
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    if text:
        wait.until(lambda d: text in d.find_element("tag name", "body").text)
    time.sleep(2.5)


def click_text(driver: Any, text: str, tag: str = "button") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    xpath = (
        f"//{tag}[normalize-space(.)={json.dumps(text)} or .//*[normalize-space(text())={json.dumps(text)}]]"
    )
    WebDriverWait(driver, 20).until(lambda d: d.find_elements("xpath", xpath))
    driver.find_elements("xpath", xpath)[0].click()


def click_label(driver: Any, prefix: str) -> None:
    """Click the button whose aria-label starts with `prefix` (the UI's icon buttons have no text)."""
    from selenium.webdriver.support.ui import WebDriverWait

    xpath = f"//button[starts-with(@aria-label, {json.dumps(prefix)})]"
    WebDriverWait(driver, 20).until(lambda d: d.find_elements("xpath", xpath))
    driver.find_elements("xpath", xpath)[0].click()
    time.sleep(2)


def unfold_json(driver: Any, limit: int = 3) -> None:
    """Asset event extras render folded (`{ … }`) in a Monaco editor: open the first `limit` of them."""
    for marker in driver.find_elements("css selector", ".codicon-folding-collapsed")[:limit]:
        try:
            marker.click()
            time.sleep(0.5)
        except Exception:  # a marker that re-rendered meanwhile: the others still open
            continue
    time.sleep(1.5)


def shoot(driver: Any, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"wrote {path}")


def take(af: Standalone, out: Path, failed_run_id: str) -> None:
    driver = browser()
    try:
        base = af.base
        run_id = af.runs()[0]["dag_run_id"]

        driver.get(f"{base}/dags/ticket_triage")
        settle(driver, "ticket_triage")
        click_label(driver, "Trigger Dag")
        settle(driver, "Day to process (UTC)")
        shoot(driver, out, "trigger-form")

        driver.get(f"{base}/dags/ticket_triage/runs/{run_id}")
        settle(driver, "report")
        click_label(driver, "Show Graph")
        settle(driver)
        shoot(driver, out, "run-graph")

        driver.get(f"{base}/dags/ticket_triage/runs/{run_id}/tasks/report/xcom")
        settle(driver, "return_value")
        click_label(driver, "Expand all")
        settle(driver)
        shoot(driver, out, "day-summary-xcom")

        assets = af.get("/api/v2/assets?name_pattern=ticket_triage_day") or {}
        driver.get(f"{base}/assets/{assets['assets'][0]['id']}")
        settle(driver, "Asset Events")
        unfold_json(driver)
        shoot(driver, out, "asset-events")

        driver.get(f"{base}/dags/ticket_triage/runs/{run_id}/tasks/triage/mapped")
        settle(driver, "batch")
        shoot(driver, out, "mapped-triage-days")

        driver.get(f"{base}/dags/ticket_triage/runs/{failed_run_id}/tasks/plan_batches")
        settle(driver, "plan_batches")
        click_label(driver, "Show Grid")  # the narrow grid leaves the log its width
        settle(driver, "not over yet")
        shoot(driver, out, "form-default-run-fails")
    finally:
        driver.quit()


def trigger_like_the_form(af: Standalone) -> str:
    """The Trigger form's defaults: logical date now, no params. The run must fail, saying what to set."""
    from datetime import UTC, datetime

    run = af.request(
        "POST",
        "/api/v2/dags/ticket_triage/dagRuns",
        {"logical_date": datetime.now(UTC).isoformat(), "conf": {}},
    )
    run_id = run["dag_run_id"]
    af.wait(
        lambda: (
            (af.get(f"/api/v2/dags/ticket_triage/dagRuns/{run_id}") or {}).get("state")
            in ("failed", "success")
        ),
        300,
        "the form-default run",
    )
    return run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="leave Airflow running until Ctrl-C")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="triage-screens-"))
    af = Standalone(workdir)
    try:
        af.start()
        af.wait(lambda: af.get("/api/v2/dags/ticket_triage"), 180, "the DAG to be parsed")
        af.request("PATCH", "/api/v2/dags/ticket_triage", {"is_paused": False})
        done = af.wait(
            lambda: (
                (r := af.runs())
                and len(r) >= len(DAYS)
                and all(x["state"] in ("success", "failed") for x in r)
                and r
            ),
            600,
            f"catchup of {len(DAYS)} days",
        )
        if [r["state"] for r in done] != ["success"] * len(DAYS):
            raise RuntimeError(f"runs did not succeed: {[(r['dag_run_id'], r['state']) for r in done]}")
        failed = trigger_like_the_form(af)
        take(af, args.out, failed)
        if args.keep:
            print(f"Airflow UI at {af.base} (Ctrl-C to stop)")
            signal.pause()
    finally:
        af.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

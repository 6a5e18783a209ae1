"""The local provider: a mistake in its info dict breaks `import airflow` for everyone, so check it."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

from llm_operators.get_provider_info import get_provider_info


def test_entry_point_is_installed_and_points_at_provider_info() -> None:
    eps = importlib.metadata.entry_points(group="apache_airflow_provider")
    ours = [ep for ep in eps if ep.value == "llm_operators.get_provider_info:get_provider_info"]
    assert ours, "run `pip install -e .`: the provider entry point is missing"
    assert ours[0].dist.name == get_provider_info()["package-name"] == "ticket-triage-llm-operators"


def test_provider_info_is_what_airflow_needs() -> None:
    info = get_provider_info()
    for key in ("package-name", "name", "description", "connection-types"):
        assert info[key]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "litellm"
    module, _, cls = conn["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), cls)
    assert hook.conn_type == "litellm" and hook.default_conn_name == "litellm_default"
    for field in conn["conn-fields"].values():
        assert {"label", "schema"} <= field.keys()


def test_airflow_lists_the_litellm_connection_type() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("litellm")), "")
    assert "llm_operators.hooks.litellm.LiteLLMHook" in line and "ticket-triage-llm-operators" in line

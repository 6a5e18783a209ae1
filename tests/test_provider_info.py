"""The local provider: a mistake in its info dict breaks `import airflow` for everyone, so check it."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

from llm_operators.get_provider_info import get_provider_info


def airflow_providers(command: str) -> str:
    """What `airflow providers <command>` prints: Airflow's own view of the installed providers."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", "providers", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


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
    out = airflow_providers("hooks")
    line = next((ln for ln in out.splitlines() if ln.startswith("litellm")), "")
    assert "llm_operators.hooks.litellm.LiteLLMHook" in line and "ticket-triage-llm-operators" in line


def test_provider_info_validates_against_airflows_provider_schema() -> None:
    """Airflow validates this dict at start-up; a field it does not know is a broken environment."""
    import json
    from pathlib import Path

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider.yaml.schema.json").read_text())
    (conn,) = get_provider_info()["connection-types"]
    jsonschema.validate(conn, schema["properties"]["connection-types"]["items"])


def test_form_fields_show_how_to_fill_models_ladder_router_settings_and_offline() -> None:
    import json

    from llm_operators.core.config import LiteLLMSettings
    from llm_operators.get_provider_info import EXTRA_EXAMPLE, MODEL_LIST_EXAMPLE

    (conn,) = get_provider_info()["connection-types"]
    fields = conn["conn-fields"]
    # the React form: arrays of objects and objects get a JSON editor, arrays of strings one per line
    assert fields["model_list"]["schema"] == {"type": ["array", "null"], "items": {"type": "object"}}
    assert fields["ladder"]["schema"]["items"] == {"type": "string"}
    assert fields["router_settings"]["schema"]["type"] == ["object", "null"]
    assert fields["offline"]["schema"]["type"] == ["boolean", "null"]
    assert MODEL_LIST_EXAMPLE in fields["model_list"]["description"]
    # every field may be left empty (null), and none pre-fills a value the form would then save
    for name, field in fields.items():
        assert "null" in field["schema"]["type"], name
        assert "default" not in field["schema"], name
    # the examples shown are valid settings, not just plausible text
    LiteLLMSettings.model_validate(json.loads(EXTRA_EXAMPLE))
    LiteLLMSettings.model_validate(
        {"model_list": json.loads(MODEL_LIST_EXAMPLE), "ladder": ["cheap", "strong"]}
    )


def test_airflow_lists_the_connection_form_fields() -> None:
    out = airflow_providers("widgets")
    listed = {ln.split()[0] for ln in out.splitlines() if ln.startswith("extra__litellm__")}
    names = (
        "offline",
        "model_list",
        "ladder",
        "router_settings",
        "escalate_below",
        "concurrency",
        "max_cost_usd",
        "mode",
    )
    assert listed == {f"extra__litellm__{n}" for n in names}

"""Static checks of the Docker deployment: docker-compose.yaml, Dockerfile, .env.example, .dockerignore.

There is no Docker engine where the tests run, so the compose file is parsed (`yaml.safe_load` resolves
the `x-airflow-common` anchors, aliases and `<<` merge keys) and checked against the repository:
services and their wiring, mounts of paths that exist, the executor/broker/DB, the Redis database of
the LLM cache, the variables that `.env.example` must document, and the image build.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
REQUIREMENTS = ROOT / "requirements.txt"
PYPROJECT = ROOT / "pyproject.toml"

CONTAINER_HOME = PurePosixPath("/opt/airflow")

# Long-running Airflow components: they must wait for airflow-init (migrations, user, pool).
LONG_RUNNING = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
]
AIRFLOW_SERVICES = [*LONG_RUNNING, "airflow-init", "airflow-cli", "flower"]
ALL_SERVICES = ["postgres", "redis", *AIRFLOW_SERVICES]
# Services that have a healthcheck in Airflow's official docker-compose.yaml.
HEALTHCHECKED = ["postgres", "redis", *LONG_RUNNING, "flower"]
PROFILES = {"airflow-cli": "debug", "flower": "flower"}

# Directories that are source and must be in the repository, and those created at runtime.
SOURCE_MOUNTS = ["dags", "plugins", "include"]
RUNTIME_MOUNTS = ["logs", "config", "output"]

# Variables the official file uses with built-in defaults; .env.example need not list them.
EXEMPT_VARS = {"AIRFLOW_UID", "AIRFLOW_IMAGE_NAME", "AIRFLOW_PROJ_DIR", "_PIP_ADDITIONAL_REQUIREMENTS"}
EXEMPT_VAR_PREFIXES = ("_AIRFLOW_WWW_",)

# Variables passed from .env with an empty default (`${VAR:-}`), under their own name.
EMPTY_DEFAULT_VARS = [
    "TRIAGE_START_DATE",
    "TRIAGE_END_DATE",
    "AIRFLOW_CONN_LITELLM_DEFAULT",
    "AIRFLOW_CONN_SLACK_API_DEFAULT",
    "AIRFLOW_CONN_JIRA_DEFAULT",
    "AIRFLOW_CONN_LANGFUSE_DEFAULT",
    "AIRFLOW_CONN_TRIAGE_REPLY_WEBHOOK",
    "AIRFLOW_VAR_TRIAGE_ALLOW_MEMORY_LEDGER",
    "AIRFLOW_VAR_TRIAGE_ALLOW_OFFLINE_DELIVERY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_HOST",
]
REQUIRED_ENV_EXAMPLE_VARS = [*EMPTY_DEFAULT_VARS, "AIRFLOW_CONN_REDIS_DEFAULT", "AIRFLOW_UID"]

# Expected conn_type of the connection examples documented in .env.example.
CONN_TYPES = {
    "AIRFLOW_CONN_LITELLM_DEFAULT": "litellm",
    "AIRFLOW_CONN_REDIS_DEFAULT": "redis",
    "AIRFLOW_CONN_SLACK_API_DEFAULT": "slack",
    "AIRFLOW_CONN_JIRA_DEFAULT": "jira",
    "AIRFLOW_CONN_TRIAGE_REPLY_WEBHOOK": "http",
}
# The one connection .env.example fills in: the offline models, chosen explicitly (a deployment with
# no litellm connection fails instead of silently answering with canned text).
OFFLINE_LITELLM = {"conn_type": "litellm", "extra": {"offline": True}}

# `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, ...; `$${...}` is an escaped `$`.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")

# Values that look like real credentials (placeholders such as `<slack-bot-token>` do not match).
SECRET_PATTERNS = {
    "OpenAI/Anthropic/Langfuse secret key": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "Langfuse public key": re.compile(r"\bpk-lf-[A-Za-z0-9-]{20,}"),
    "Slack token": re.compile(r"\bxox[abposr]-\d+-[A-Za-z0-9-]+"),
    "Atlassian API token": re.compile(r"\bATATT[A-Za-z0-9_=-]{20,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "Fernet key": re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD)$")


# ----------------------------------------------------------------------------------------- helpers


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose-style interpolation of `${VAR:-default}` with `env` (default: nothing set)."""
    env = env or {}

    def repl(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        return current or ""

    return VAR_REF.sub(repl, value).replace("$$", "$")


def iter_strings(node: Any) -> list[str]:
    """Every string value (and mapping key) in a parsed YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*iter_strings(key), *iter_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in iter_strings(item)]
    return []


def parse_mounts(volumes: list[str]) -> dict[PurePosixPath, str]:
    """Bind mounts as {container path: host path}; named volumes are skipped."""
    mounts = {}
    for spec in volumes:
        assert isinstance(spec, str), f"use the short `host:container` syntax, got {spec!r}"
        host, container, *_ = spec.split(":")
        if host.startswith((".", "/", "$")):
            mounts[PurePosixPath(container)] = interpolate(host)
        else:
            assert not host.startswith("~"), spec
    return mounts


def host_dir_for(container_path: str, mounts: dict[PurePosixPath, str]) -> tuple[PurePosixPath, str]:
    """The bind mount (container dir, host dir) under which `container_path` lies (longest match)."""
    path = PurePosixPath(container_path)
    matches = [c for c in mounts if path == c or c in path.parents]
    assert matches, f"{container_path} is not under any bind mount ({sorted(map(str, mounts))})"
    best = max(matches, key=lambda c: len(c.parts))
    return best, mounts[best]


def redis_db_of_url(url: str) -> int:
    """Database index of a Celery/redis-py URL (`redis://host:port/<db>`, default 0)."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    return int(path) if path else 0


def redis_db_of_airflow_conn(value: str) -> tuple[str | None, int]:
    """(host, db) that the product's Redis settings use for an AIRFLOW_CONN_* value (JSON or URI).

    Asks the product itself (`hooks.redis_settings`, which reads the connection through Airflow's
    RedisHook): the `db` extra, or the URI path, which RedisHook alone would ignore.
    """
    from llm_operators.hooks.redis_settings import redis_settings

    name = "AIRFLOW_CONN_COMPOSE_PROBE"
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        settings = redis_settings("compose_probe")
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old
    return settings.host, settings.db


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (comments and blank lines skipped, quotes removed)."""
    values = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f"{path.name}:{lineno}: not KEY=VALUE: {raw!r}"
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{path.name}:{lineno}: bad name {key!r}"
        assert key not in values, f"{path.name}:{lineno}: {key} listed twice"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def commented_examples(path: Path) -> dict[str, str]:
    """`# VAR='value'` example lines of a dotenv file, as {VAR: value}."""
    examples = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)='(.*)'\s*", line.strip())
        if match:
            examples[match.group(1)] = match.group(2)
    return examples


def find_secrets(text: str) -> list[str]:
    return [
        f"{label}: {m.group(0)[:12]}..." for label, rx in SECRET_PATTERNS.items() for m in rx.finditer(text)
    ]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with `\\` line continuations joined and comments dropped."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    out = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def gitignore_patterns() -> set[str]:
    path = ROOT / ".gitignore"
    if not path.exists():
        return set()
    return {
        line.strip().strip("/")
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


def init_script(compose: dict[str, Any]) -> str:
    command = compose["services"]["airflow-init"]["command"]
    return "\n".join(command) if isinstance(command, list) else command


def brace_dirs(script: str, verb: str) -> set[str]:
    """Directories named by `<verb> ... /opt/airflow/{a,b,c}` lines of the init script."""
    dirs = set()
    for line in script.splitlines():
        if line.strip().startswith(verb):
            for group in re.findall(r"/opt/airflow/\{([^}]*)\}", line):
                dirs.update(part.strip() for part in group.split(","))
    return dirs


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), "docker-compose.yaml is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and "services" in data
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def common(compose: dict[str, Any]) -> dict[str, Any]:
    assert "x-airflow-common" in compose, "the x-airflow-common anchor block is missing"
    return compose["x-airflow-common"]


@pytest.fixture(scope="module")
def common_env(common: dict[str, Any]) -> dict[str, Any]:
    return common["environment"]


@pytest.fixture(scope="module")
def mounts(common: dict[str, Any]) -> dict[PurePosixPath, str]:
    return parse_mounts(common["volumes"])


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    assert ENV_EXAMPLE.is_file(), ".env.example is missing"
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    return dockerfile_instructions(DOCKERFILE.read_text())


# ------------------------------------------------------------------------------- helper self-tests


def test_interpolate_follows_compose_rules() -> None:
    assert interpolate("${A:-x}") == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("${A:-x}", {"A": "y"}) == "y"
    assert interpolate("${A}") == ""
    assert interpolate("$${HOSTNAME}") == "${HOSTNAME}"
    assert interpolate("${A:-redis://redis:6379?db=1}") == "redis://redis:6379?db=1"


def test_redis_conn_parser_honours_db_extra_and_uri_path() -> None:
    assert redis_db_of_airflow_conn("redis://redis:6379?db=1") == ("redis", 1)
    # The URI path is the connection's schema; RedisHook alone would ignore it and use database 0.
    assert redis_db_of_airflow_conn("redis://redis:6379/1") == ("redis", 1)
    assert redis_db_of_airflow_conn('{"conn_type": "redis", "host": "h", "extra": {"db": 2}}') == ("h", 2)
    assert redis_db_of_url("redis://:@redis:6379/0") == 0
    assert redis_db_of_url("redis://redis:6379") == 0


@pytest.mark.parametrize(
    "fake",
    [
        "sk-" + "a1B2" * 6,
        "sk-proj-" + "Zz9_" * 8,
        "sk-ant-api03-" + "x" * 30,
        "sk-lf-" + "0123abcd-" * 4,
        "pk-lf-" + "0123abcd-" * 4,
        "xoxb-" + "1234567890-" * 2 + "abcDEF",
        "ATATT" + "3xFfGF0" * 5,
        "AKIA" + "ABCDEFGHIJ234567",
        "46BKJoQYlPPOexq0OhDZnIlNepKFf87WFwLbfzqDDho=",
    ],
)
def test_secret_detector_catches_real_looking_values(fake: str) -> None:
    assert find_secrets(f"KEY={fake}\n"), fake


@pytest.mark.parametrize(
    "placeholder",
    ["", "<slack-bot-token>", "sk-...", "xoxb-...", "<langfuse-secret-key>", "changeme", "sk-ant-..."],
)
def test_secret_detector_allows_placeholders(placeholder: str) -> None:
    assert not find_secrets(f"KEY={placeholder}\n"), placeholder


# ---------------------------------------------------------------------------------------- services


def test_all_services_exist(services: dict[str, Any]) -> None:
    missing = [name for name in ALL_SERVICES if name not in services]
    assert not missing, f"services missing from docker-compose.yaml: {missing}"


@pytest.mark.parametrize(("service", "profile"), sorted(PROFILES.items()))
def test_optional_services_are_behind_profiles(services: dict[str, Any], service: str, profile: str) -> None:
    assert profile in services[service].get("profiles", []), f"{service} must be in profile {profile!r}"


@pytest.mark.parametrize("service", [s for s in ALL_SERVICES if s not in PROFILES])
def test_default_services_have_no_profile(services: dict[str, Any], service: str) -> None:
    assert not services[service].get("profiles"), f"{service} would not start with `docker compose up`"


@pytest.mark.parametrize("service", HEALTHCHECKED)
def test_healthchecks(services: dict[str, Any], service: str) -> None:
    check = services[service].get("healthcheck")
    assert check, f"{service} has no healthcheck"
    test = check.get("test")
    assert isinstance(test, list) and len(test) >= 2, f"{service}: healthcheck.test must be a list"
    assert test[0] in {"CMD", "CMD-SHELL"}, f"{service}: healthcheck.test starts with {test[0]!r}"
    assert check.get("interval") and check.get("retries"), f"{service}: interval/retries missing"


def test_apiserver_healthcheck_hits_its_published_port(services: dict[str, Any]) -> None:
    api = services["airflow-apiserver"]
    assert "8080:8080" in [str(p) for p in api["ports"]]
    assert any("localhost:8080/api/v2/" in part for part in api["healthcheck"]["test"])


@pytest.mark.parametrize("service", [*LONG_RUNNING, "flower"])
def test_long_running_services_wait_for_init_and_backends(services: dict[str, Any], service: str) -> None:
    depends = services[service].get("depends_on")
    assert isinstance(depends, dict), f"{service}: depends_on must use the long syntax with conditions"
    assert depends.get("airflow-init", {}).get("condition") == "service_completed_successfully", (
        f"{service} must wait for airflow-init to complete successfully"
    )
    for backend in ("postgres", "redis"):
        assert depends.get(backend, {}).get("condition") == "service_healthy", (
            f"{service} must wait for a healthy {backend}"
        )


def test_worker_waits_for_healthy_apiserver(services: dict[str, Any]) -> None:
    # Workers run tasks through the api-server's execution API.
    depends = services["airflow-worker"]["depends_on"]
    assert depends.get("airflow-apiserver", {}).get("condition") == "service_healthy"


@pytest.mark.parametrize("service", ["airflow-init", "airflow-cli"])
def test_init_and_cli_wait_for_backends(services: dict[str, Any], service: str) -> None:
    depends = services[service]["depends_on"]
    for backend in ("postgres", "redis"):
        assert depends.get(backend, {}).get("condition") == "service_healthy", f"{service} -> {backend}"


def test_postgres_data_is_a_named_volume(compose: dict[str, Any], services: dict[str, Any]) -> None:
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in (compose.get("volumes") or {}), f"named volume {volume!r} is not declared"


# -------------------------------------------------------------------------- image, env and volumes


def test_common_image_is_built_from_the_dockerfile(common: dict[str, Any]) -> None:
    build = common.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    assert context in {".", "./"}, f"x-airflow-common must build the repo's Dockerfile, got {build!r}"
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert (ROOT / dockerfile).is_file()
    image = interpolate(common.get("image", ""))
    assert image and not image.startswith("apache/airflow"), (
        f"the built image needs its own tag (AIRFLOW_IMAGE_NAME default), got {image!r}"
    )


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_use_common_image_and_build(
    services: dict[str, Any], common: dict[str, Any], service: str
) -> None:
    svc = services[service]
    assert svc.get("image") == common["image"], f"{service} does not use the common image"
    assert svc.get("build") == common["build"], f"{service} does not use the common build"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_get_common_env(
    services: dict[str, Any], common_env: dict[str, Any], service: str
) -> None:
    env = services[service].get("environment") or {}
    assert isinstance(env, dict), f"{service}: environment must be a mapping"
    # airflow-init must not pip-install extra requirements (as in the official file).
    allowed_overrides = {"_PIP_ADDITIONAL_REQUIREMENTS"} if service == "airflow-init" else set()
    missing = sorted(k for k in common_env if k not in env)
    changed = sorted(
        k for k in common_env if k in env and env[k] != common_env[k] and k not in allowed_overrides
    )
    assert not missing, f"{service} lacks common env {missing}"
    assert not changed, f"{service} overrides common env {changed}"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_get_common_volumes(
    services: dict[str, Any], common: dict[str, Any], service: str
) -> None:
    assert services[service].get("volumes") == common["volumes"], (
        f"{service} does not mount the common volumes"
    )


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_env_values_are_strings(services: dict[str, Any], service: str) -> None:
    # Unquoted YAML booleans/numbers reach containers as 'True'/'False' or get rejected by Compose.
    env = services[service]["environment"]
    bad = {k: v for k, v in env.items() if not isinstance(v, str)}
    assert not bad, f"{service}: quote these environment values: {bad}"


def test_common_user_is_airflow_uid_with_group_zero(common: dict[str, Any]) -> None:
    assert common["user"] == "${AIRFLOW_UID:-50000}:0"


# --------------------------------------------------------------------------------------- mounts


@pytest.mark.parametrize("name", [*SOURCE_MOUNTS, *RUNTIME_MOUNTS])
def test_project_dirs_are_mounted_at_same_name(mounts: dict[PurePosixPath, str], name: str) -> None:
    container = CONTAINER_HOME / name
    assert container in mounts, f"/opt/airflow/{name} is not mounted"
    host = PurePosixPath(mounts[container])
    assert not host.is_absolute(), f"{host}: mount a path relative to the repository"
    assert host.parts[-1] == name and len(host.parts) == 1, f"{container} must map to ./{name}, got {host}"


def test_every_mounted_host_path_is_inside_the_repo(mounts: dict[PurePosixPath, str]) -> None:
    for container, host in mounts.items():
        resolved = (ROOT / host).resolve()
        assert resolved.is_relative_to(ROOT), f"{host} -> {container} escapes the repository"


@pytest.mark.parametrize("name", SOURCE_MOUNTS)
def test_source_mounts_exist_in_the_repo(mounts: dict[PurePosixPath, str], name: str) -> None:
    host = ROOT / mounts[CONTAINER_HOME / name]
    assert host.is_dir(), f"{host.relative_to(ROOT)} is mounted but does not exist in the repository"


@pytest.mark.parametrize("name", RUNTIME_MOUNTS)
def test_runtime_mounts_are_created_and_kept_out_of_git(
    compose: dict[str, Any], mounts: dict[PurePosixPath, str], name: str
) -> None:
    host = PurePosixPath(mounts[CONTAINER_HOME / name])
    script = init_script(compose)
    # airflow-init creates the directory and hands it to AIRFLOW_UID (else Docker creates it as root).
    assert name in brace_dirs(script, "mkdir"), f"airflow-init does not create /opt/airflow/{name}"
    assert name in brace_dirs(script, "chown"), f"airflow-init does not chown /opt/airflow/{name}"
    # Generated content is not source: ignored by git, or at least documented as runtime-only.
    header = COMPOSE_FILE.read_text().split("\n---", 1)[0]
    documented = f"./{host}" in header
    assert name in gitignore_patterns() or documented, (
        f"./{host} is created at runtime: add it to .gitignore or document it in docker-compose.yaml"
    )


def test_init_creates_and_chowns_every_mounted_dir(compose: dict[str, Any], mounts: dict) -> None:
    names = {c.name for c in mounts if c.parent == CONTAINER_HOME}
    script = init_script(compose)
    assert names <= brace_dirs(script, "mkdir"), names - brace_dirs(script, "mkdir")
    assert names <= brace_dirs(script, "chown"), names - brace_dirs(script, "chown")


def test_triage_source_root_is_under_a_repo_mount(common_env: dict[str, Any], mounts: dict) -> None:
    source = common_env["TRIAGE_SOURCE_ROOT"]
    assert source == "/opt/airflow/include/sample_data/tickets"
    container, host = host_dir_for(source, mounts)
    assert (ROOT / host).is_dir(), f"{source} lies under ./{host}, which does not exist in the repository"
    relative = PurePosixPath(source).relative_to(container)
    assert PurePosixPath(host).name in SOURCE_MOUNTS, f"{source} must come from a committed directory"
    assert str(relative) == "sample_data/tickets", relative


def test_triage_output_root_is_the_output_mount(common_env: dict[str, Any], mounts: dict) -> None:
    output = common_env["TRIAGE_OUTPUT_ROOT"]
    _container, host = host_dir_for(output, mounts)
    assert PurePosixPath(host).name == "output", f"{output} is not written to ./output on the host"


# ------------------------------------------------------------------- executor, broker, database


def test_executor_is_celery(common_env: dict[str, Any]) -> None:
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_broker_is_the_redis_service(common_env: dict[str, Any], services: dict[str, Any]) -> None:
    broker = urlsplit(interpolate(common_env["AIRFLOW__CELERY__BROKER_URL"]))
    assert broker.scheme == "redis", broker
    assert broker.hostname == "redis" and "redis" in services, broker
    assert broker.port in (None, 6379)


@pytest.mark.parametrize("key", ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"])
def test_metadata_db_is_the_postgres_service(
    common_env: dict[str, Any], services: dict[str, Any], key: str
) -> None:
    url = urlsplit(interpolate(common_env[key]))
    assert "postgresql" in url.scheme, url
    assert url.hostname == "postgres" and "postgres" in services, url
    pg_env = services["postgres"]["environment"]
    assert url.username == pg_env["POSTGRES_USER"]
    assert url.password == pg_env["POSTGRES_PASSWORD"]
    assert url.path.strip("/") == pg_env["POSTGRES_DB"]


def test_llm_cache_redis_db_differs_from_broker(common_env: dict[str, Any]) -> None:
    raw = common_env["AIRFLOW_CONN_REDIS_DEFAULT"]
    match = VAR_REF.fullmatch(raw)
    assert match and match.group(1) == "AIRFLOW_CONN_REDIS_DEFAULT" and match.group(2) == ":-", (
        f"AIRFLOW_CONN_REDIS_DEFAULT must be `${{AIRFLOW_CONN_REDIS_DEFAULT:-<default>}}`, got {raw!r}"
    )
    default = interpolate(raw)
    host, db = redis_db_of_airflow_conn(default)
    broker_db = redis_db_of_url(interpolate(common_env["AIRFLOW__CELERY__BROKER_URL"]))
    assert host == "redis", f"the cache default must use the compose redis service, got {host!r}"
    assert db != broker_db, f"LLM cache and Celery broker share Redis database {db}"


def test_execution_api_points_at_the_apiserver(common_env: dict[str, Any], services: dict[str, Any]) -> None:
    url = urlsplit(common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.hostname in services
    assert url.port == 8080 and url.path.rstrip("/") == "/execution"


def test_fixed_airflow_and_triage_settings(common_env: dict[str, Any]) -> None:
    assert common_env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert common_env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "true"
    assert common_env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert common_env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


@pytest.mark.parametrize("name", EMPTY_DEFAULT_VARS)
def test_env_passthrough_with_empty_default(common_env: dict[str, Any], name: str) -> None:
    assert common_env.get(name) == f"${{{name}:-}}", f"{name} must be passed as ${{{name}:-}}"


def test_simple_auth_manager_passwords_come_from_init(compose: dict[str, Any], common_env: dict) -> None:
    manager = common_env.get("AIRFLOW__CORE__AUTH_MANAGER", "")
    if not manager.endswith("SimpleAuthManager"):
        pytest.skip(f"auth manager is {manager!r}")
    passwords = PurePosixPath(common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert passwords.parent == CONTAINER_HOME / "config", "the password file must be on the config mount"
    assert str(passwords) in init_script(compose), "airflow-init does not write the password file"
    init_env = compose["services"]["airflow-init"]["environment"]
    # `_AIRFLOW_WWW_USER_CREATE` makes the entrypoint run `airflow users create`, a FAB-only command.
    assert "_AIRFLOW_WWW_USER_CREATE" not in init_env
    assert "${_AIRFLOW_WWW_USER_USERNAME:-airflow}" in common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert init_env["_AIRFLOW_WWW_USER_USERNAME"] == "${_AIRFLOW_WWW_USER_USERNAME:-airflow}"


# ------------------------------------------------------------------------------------ airflow-init


def test_init_migrates_the_db(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    assert init["environment"].get("_AIRFLOW_DB_MIGRATE") == "true"
    assert init.get("entrypoint") == "/bin/bash"


def test_init_creates_the_llm_calls_pool(compose: dict[str, Any]) -> None:
    script = init_script(compose)
    match = re.search(r"(/entrypoint\s+)?airflow pools set llm_calls (\d+) \"([^\"]+)\"(.*)", script)
    assert match, 'airflow-init does not run `airflow pools set llm_calls <slots> "<description>"`'
    assert match.group(1), "run the pool command through /entrypoint (it waits for and migrates the DB)"
    assert int(match.group(2)) >= 1
    assert "|| exit 1" in match.group(4) or "set -e" in script, "a failed pool command must fail the init"


# ------------------------------------------------------------------------------------- .env.example


def test_compose_vars_are_listed_in_env_example(compose: dict[str, Any], env_example: dict[str, str]) -> None:
    referenced = {m.group(1) for text in iter_strings(compose) for m in VAR_REF.finditer(text)}
    assert referenced, "no ${VAR} found: the variable scan is broken"
    needed = {v for v in referenced if v not in EXEMPT_VARS and not v.startswith(EXEMPT_VAR_PREFIXES)}
    missing = sorted(needed - set(env_example))
    assert not missing, f".env.example does not list {missing}"


@pytest.mark.parametrize("name", REQUIRED_ENV_EXAMPLE_VARS)
def test_env_example_lists_required_vars(env_example: dict[str, str], name: str) -> None:
    assert name in env_example, f".env.example does not list {name}"


def test_env_example_sets_airflow_uid(env_example: dict[str, str]) -> None:
    assert env_example["AIRFLOW_UID"] == "50000"


def test_env_example_values_are_empty_for_secrets(env_example: dict[str, str]) -> None:
    filled = sorted(
        k
        for k, v in env_example.items()
        if (SECRET_NAME.search(k) or "CONN" in k) and v and k != "AIRFLOW_CONN_LITELLM_DEFAULT"
    )
    assert not filled, f".env.example must leave secrets and connections empty: {filled}"


def test_env_example_chooses_the_offline_models_explicitly(env_example: dict[str, str]) -> None:
    assert json.loads(env_example["AIRFLOW_CONN_LITELLM_DEFAULT"]) == OFFLINE_LITELLM


def test_env_example_offline_choice_is_what_the_hook_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow")
    from llm_operators.hooks.litellm import LiteLLMHook

    value = parse_env_file(ENV_EXAMPLE)["AIRFLOW_CONN_LITELLM_DEFAULT"]
    monkeypatch.setenv("AIRFLOW_CONN_LITELLM_COMPOSE_PROBE", value)
    hook = LiteLLMHook("litellm_compose_probe", redis_conn_id=None)
    assert hook.offline and hook.settings.ladder == ["fast", "careful"]


@pytest.mark.parametrize("path", [ENV_EXAMPLE, COMPOSE_FILE, DOCKERFILE], ids=lambda p: p.name)
def test_no_real_looking_secrets(path: Path) -> None:
    found = find_secrets(path.read_text())
    assert not found, f"{path.name} contains values that look like real credentials: {found}"


def test_env_example_documents_each_connection(env_example: dict[str, str]) -> None:
    examples = commented_examples(ENV_EXAMPLE)
    for name, conn_type in CONN_TYPES.items():
        assert name in examples, f".env.example has no `# {name}='...'` example"
        data = json.loads(examples[name])
        assert data["conn_type"] == conn_type, (name, data["conn_type"])


def test_env_example_redis_example_avoids_the_broker_db(common_env: dict[str, Any]) -> None:
    example = commented_examples(ENV_EXAMPLE)["AIRFLOW_CONN_REDIS_DEFAULT"]
    _host, db = redis_db_of_airflow_conn(example)
    assert db != redis_db_of_url(common_env["AIRFLOW__CELERY__BROKER_URL"])


def test_env_example_litellm_example_is_valid_settings() -> None:
    config = pytest.importorskip("llm_operators.core.config")
    data = json.loads(commented_examples(ENV_EXAMPLE)["AIRFLOW_CONN_LITELLM_DEFAULT"])
    settings = config.LiteLLMSettings.parse(data["extra"], ".env.example")
    models = {d.model for d in settings.model_list}
    assert {"openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "openai/gpt-4o"} <= models
    assert settings.ladder == ["cheap", "strong"]
    assert settings.router_settings.fallbacks, "the cheap rung should have a provider fallback"
    assert not data.get("password"), "no key in the example"


# ---------------------------------------------------------------------------------------- Dockerfile


def _requirement_pin(name: str) -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.fullmatch(rf"\s*{re.escape(name)}==([^\s;#]+).*", line)
        if match:
            return match.group(1)
    raise AssertionError(f"requirements.txt does not pin {name}==")


def test_dockerfile_base_matches_requirements_pin(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for instr, args in dockerfile if instr == "FROM"]
    assert froms, "Dockerfile has no FROM"
    match = re.fullmatch(
        r"apache/airflow:(\d+\.\d+\.\d+)(?:-python(\d+\.\d+))?(?:\s+AS\s+\S+)?", froms[-1], re.I
    )
    assert match, f"final stage must be FROM apache/airflow:<version>[-pythonX.Y], got {froms[-1]!r}"
    assert match.group(1) == _requirement_pin("apache-airflow"), "image and requirements.txt disagree"
    requires = tomllib.loads(PYPROJECT.read_text())["project"].get("requires-python", "")
    minimum = re.search(r">=\s*(\d+)\.(\d+)", requires)
    if match.group(2) and minimum:
        tag = tuple(int(x) for x in match.group(2).split("."))
        assert tag >= (int(minimum.group(1)), int(minimum.group(2))), (match.group(2), requires)


def test_dockerfile_installs_requirements(dockerfile: list[tuple[str, str]]) -> None:
    copied_at = next(
        (i for i, (instr, args) in enumerate(dockerfile) if instr == "COPY" and "requirements.txt" in args),
        None,
    )
    assert copied_at is not None, "Dockerfile does not COPY requirements.txt"
    installs = [
        i
        for i, (instr, args) in enumerate(dockerfile)
        if instr == "RUN" and re.search(r"pip install\b[^&|;]*\s-r\s+\S*requirements\.txt", args)
    ]
    assert installs, "Dockerfile does not `pip install -r requirements.txt`"
    assert installs[0] > copied_at, "requirements.txt is installed before it is copied"
    assert all("--no-cache-dir" in dockerfile[i][1] for i in installs)


def test_dockerfile_installs_the_local_provider(dockerfile: list[tuple[str, str]]) -> None:
    copies = " ".join(args for instr, args in dockerfile if instr == "COPY")
    assert "pyproject.toml" in copies, "Dockerfile does not COPY pyproject.toml"
    assert re.search(r"(^|\s)plugins/?(\s|$)", copies), "Dockerfile does not COPY plugins/"
    runs = [args for instr, args in dockerfile if instr == "RUN"]
    assert any(re.search(r"pip install\b[^&|;]*--no-deps[^&|;]*\s\.(/)?(\s|$)", r) for r in runs), (
        "Dockerfile does not `pip install --no-deps ./` the local provider"
    )
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["name"] == "ticket-triage-llm-operators"
    assert "apache_airflow_provider" in project.get("entry-points", {}), "pyproject declares no provider"


def test_dockerfile_does_not_switch_to_root_for_pip(dockerfile: list[tuple[str, str]]) -> None:
    # The Airflow image installs packages as the `airflow` user; pip as root breaks the image layout.
    assert all(args.strip() not in {"root", "0"} for instr, args in dockerfile if instr == "USER")


# ------------------------------------------------------------------------------------- .dockerignore


@pytest.mark.parametrize("entry", [".git", ".venv", ".env", "output", "logs", "config", "airflow_home"])
def test_dockerignore_excludes(entry: str) -> None:
    entries = {line.strip().strip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    assert entry in entries, f".dockerignore does not exclude {entry}"


def test_dockerignore_keeps_build_inputs() -> None:
    excluded = {line.strip().strip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for needed in ("requirements.txt", "pyproject.toml", "plugins"):
        assert needed not in excluded, f".dockerignore excludes {needed}, which the Dockerfile copies"

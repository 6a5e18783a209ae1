"""No module of the package touches a private attribute, private module or internal global of litellm
or langfuse: such code breaks silently on their next release (issue 16).

Every module under plugins/llm_operators, and the chaos provider in tools/ (a test tool, not product,
but cheap to keep honest), is parsed (not imported). Three rules:
1. No internal name of litellm/langfuse that earlier code reached for, used as an identifier, an
   attribute or a string key (`getattr(x, "_tracer_provider")`, `metadata["litellm_parent_otel_span"]`).
2. No private module or private name imported from litellm/langfuse (`litellm._logging`,
   `from langfuse._client import ...`, `from litellm.x import _y`).
3. In a module that uses litellm or langfuse, no `._name` access (or `getattr(x, "_name")`) on
   anything but `self`/`cls`, except the allow-list below, each entry with the public documentation
   that makes it part of the contract.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "llm_operators"
CHAOS_TOOL = REPO / "tools" / "chaos_provider"
THIRD_PARTY = ("litellm", "langfuse")

# Internals an earlier implementation used (issue 16); any use of these names is a finding.
FORBIDDEN_NAMES = frozenset(
    {
        "_async_success_callback",
        "_async_failure_callback",
        "_async_input_callback",
        "_reset_all_callbacks",
        "GLOBAL_LOGGING_WORKER",
        "litellm_parent_otel_span",
        "_get_span_context",
        "safe_deep_copy",
        "_tracer_provider",
        "_tracer_provider_cache",
        "_instances",
        "_in_memory_loggers",
        "LangfuseResourceManager",
    }
)

# Underscored attributes that litellm documents as the way to read something: allowed, with the source.
ALLOWED_PRIVATE_ATTRIBUTES = {
    # "LiteLLM returns `response_cost` in all calls ... print(response._hidden_params["response_cost"])"
    # https://docs.litellm.ai/docs/completion/token_usage ; the Router's docs read the deployment that
    # answered from `response._hidden_params["model_id"]`: https://docs.litellm.ai/docs/routing
    "_hidden_params",
}


@dataclass(frozen=True)
class Finding:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _is_third_party(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in THIRD_PARTY


def _uses_third_party(tree: ast.AST) -> bool:
    """Imports litellm/langfuse anywhere (also inside functions), or gets litellm via import_litellm()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_third_party(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and _is_third_party(node.module):
            return True
        if isinstance(node, ast.Name) and node.id == "import_litellm":
            return True
    return False


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def scan(source: str, module: str) -> list[Finding]:
    tree = ast.parse(source)
    uses_third_party = _uses_third_party(tree)
    findings: list[Finding] = []

    def add(node: ast.AST, what: str) -> None:
        findings.append(Finding(module, getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        # rule 1: internal names, as identifiers or as string keys
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.alias):
            names = [node.name.split(".")[-1], *([node.asname] if node.asname else [])]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        for name in names:
            if name in FORBIDDEN_NAMES:
                add(node, f"internal name {name!r}")

        # rule 2: private modules and private names imported from litellm/langfuse
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_third_party(alias.name) and any(_private(p) for p in alias.name.split(".")):
                    add(node, f"private module {alias.name}")
        if isinstance(node, ast.ImportFrom) and _is_third_party(node.module):
            assert node.module is not None
            if any(_private(p) for p in node.module.split(".")):
                add(node, f"private module {node.module}")
            for alias in node.names:
                if _private(alias.name):
                    add(node, f"private name {alias.name} from {node.module}")

        # rule 3: `._x` on anything but self/cls, in modules that use litellm/langfuse
        if not uses_third_party:
            continue
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr not in ALLOWED_PRIVATE_ATTRIBUTES:
                add(node, f"private attribute .{node.attr} of {ast.unparse(node.value)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in ALLOWED_PRIVATE_ATTRIBUTES
        ):
            add(node, f"{node.func.id}(..., {node.args[1].value!r})")
    return findings


MODULES = sorted([*PACKAGE.rglob("*.py"), *CHAOS_TOOL.rglob("*.py")])


def test_the_scan_covers_every_layer_of_the_package() -> None:
    package = [p.relative_to(PACKAGE).parts for p in MODULES if p.is_relative_to(PACKAGE)]
    layers = {parts[0] for parts in package if len(parts) > 1}
    assert {"llm", "hooks", "operators", "core"} <= layers
    assert any(p.is_relative_to(CHAOS_TOOL) for p in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_private_api_of_litellm_or_langfuse(path: Path) -> None:
    findings = scan(path.read_text(), str(path.relative_to(REPO)))
    assert [str(f) for f in findings] == []


def test_every_allowed_private_attribute_is_still_used() -> None:
    """A stale allow-list entry would hide the next misuse of the same name."""
    used = {
        node.attr
        for path in MODULES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
    } | {
        node.value
        for path in MODULES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert used >= ALLOWED_PRIVATE_ATTRIBUTES


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import litellm\nlitellm._async_success_callback.append(1)\n", "_async_success_callback"),
        ("import litellm\nx = litellm.callbacks\nx._private_thing\n", "private attribute ._private_thing"),
        ("import litellm\ngetattr(litellm, '_logging_worker')\n", "getattr(..., '_logging_worker')"),
        ("from litellm._logging import verbose_logger\n", "private module litellm._logging"),
        ("from langfuse._client.resource_manager import X\n", "private module langfuse._client"),
        ("from litellm.utils import _helper\n", "private name _helper"),
        ("def f(kwargs):\n    return kwargs['litellm_parent_otel_span']\n", "litellm_parent_otel_span"),
        ("from langfuse import Langfuse\ndef f(c: Langfuse):\n    return c._tracer_provider\n", "_tracer"),
        ("from .environment import import_litellm\nimport_litellm()._x = 1\n", "private attribute ._x"),
    ],
)
def test_the_scan_finds_what_it_forbids(source: str, expected: str) -> None:
    findings = [str(f) for f in scan(source, "example.py")]
    assert any(expected in f for f in findings), findings


def test_the_scan_leaves_our_own_privates_and_the_documented_ones_alone() -> None:
    source = (
        "import litellm\n"
        "class A:\n"
        "    def f(self, response):\n"
        "        self._x = response._hidden_params['response_cost']\n"
        "        return getattr(response, '_hidden_params', {})\n"
    )
    assert scan(source, "example.py") == []
    # a module that never touches litellm/langfuse may use its own helpers' privates
    assert scan("def f(server):\n    return server._track\n", "example.py") == []

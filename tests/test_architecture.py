"""The rooms of the house and what each may import (docs/architecture.md draws the same map).

Read from the source with `ast`, so an import hidden in a function counts as much as one at
the top; then checked once more in a fresh interpreter, where what a module pulls in
transitively shows in `sys.modules`. Modules stay small, and none imports back up into one that
imports it.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SLACK = ("slack_sdk", "slack_bolt", "bot.slack", "handlers")
DATABASE = ("sqlalchemy", "aiosqlite", "asyncpg", "alembic", "bot.store")
SANDBOX = ("bot.sandbox",)
# what of bot/observability is more than its stdlib-only log context (the one part core may use)
OBSERVING = (
    "prometheus_client",
    "bot.observability.metrics",
    "bot.observability.logs",
    "bot.observability.slack_calls",
    "bot.observability.exposition",
)

# room -> prefixes it must never import
RULES: dict[str, tuple[str, ...]] = {
    "bot/core": (
        *SLACK,
        *DATABASE,
        *SANDBOX,
        *OBSERVING,
        "aiohttp",
        "bot.config",
        "bot.runtime",
        "yaml",
    ),
    "bot/sfvopi": (
        *SLACK,
        *DATABASE,
        *SANDBOX,
        "bot.core.models",
        "bot.core.workflow",
        "bot.core.org",
        "bot.core.ports",
        "bot.config",
        "bot.observability",  # told of each call through a callback instead
    ),
    "bot/store": (*SLACK, *SANDBOX, "bot.sfvopi", "bot.core.workflow", "bot.config", "httpx"),
    "bot/config": (*SLACK, *DATABASE, *SANDBOX, "bot.sfvopi", "bot.core.workflow"),
    "bot/slack/blocks": (
        *DATABASE,
        *SANDBOX,
        "bot.sfvopi",
        "slack_bolt",
        "aiohttp",
        "httpx",
        "bot.core.workflow",
    ),
    "bot/slack/grammar.py": (*DATABASE, *SANDBOX, "bot.sfvopi", "slack_sdk", "slack_bolt"),
    # the front doors serve what the root hands them; the root (bot/wiring) mounts the rest
    "bot/slack": (*SANDBOX, "bot.api", "bot.wiring"),
    "bot/wiring": SANDBOX,
    "handlers": (*SANDBOX, *DATABASE),
    "bot/runtime.py": (*SLACK, *SANDBOX),
    "bot/errors.py": ("bot", "slack_sdk", "slack_bolt", "sqlalchemy", "httpx", "aiohttp"),
    "bot/observability": (
        *DATABASE,
        *SANDBOX,
        "slack_bolt",
        "bot.slack",
        "handlers",
        "bot.config",
        "bot.runtime",
        "bot.sfvopi",
        "bot.core.workflow",
    ),
    "bot/observability/context.py": ("bot", "slack_sdk", "slack_bolt", "aiohttp", "httpx"),
    # the audit log: pure chain, record and export; only verify, sink and commands reach a store
    "bot/audit": (*SLACK, *SANDBOX, "bot.sfvopi", "bot.core.workflow", "bot.runtime"),
    "bot/audit/chain.py": (*DATABASE, "bot.config", "aiohttp", "httpx"),
    "bot/audit/events.py": (*DATABASE, "bot.config", "aiohttp", "httpx"),
    "bot/audit/export.py": (*DATABASE, "bot.config", "aiohttp", "httpx"),
    # the HTTP API: a front door beside Slack's, mounted by bot/wiring/web.py; it reaches the
    # database only through the workflow and its own ApiStore protocol
    "bot/api": (*SLACK, *DATABASE, *SANDBOX, "bot.config", "bot.runtime", "bot.sfvopi"),
}


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """Every module a file imports: (name, line, at top level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno, id(node) in top))
            found += [
                (f"{node.module}.{alias.name}", node.lineno, id(node) in top)
                for alias in node.names
            ]
    return found


def files_in(room: str) -> list[Path]:
    path = REPO / room
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def forbidden(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("room", sorted(RULES))
def test_each_room_imports_only_what_it_may(room: str) -> None:
    assert files_in(room), f"{room} holds no Python file: is the rule stale?"
    broken = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in files_in(room)
        for name, line, _top in imports_of(path)
        if forbidden(name, RULES[room])
    ]
    assert not broken, "\n".join(broken)


def test_the_sandbox_is_imported_only_by_its_command() -> None:
    """Product code never imports the sandbox; the CLI does so inside `sandbox` alone."""
    broken = []
    for path in [*files_in("bot"), *files_in("handlers")]:
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("bot/sandbox/"):
            continue
        for name, line, top in imports_of(path):
            if forbidden(name, SANDBOX) and (relative != "bot/cli.py" or top):
                broken.append(f"{relative}:{line} imports {name}")
    assert not broken, "\n".join(broken)


def test_the_rules_bite() -> None:
    """The checker sees an import in a function as well as at the top."""
    found = imports_of(REPO / "bot" / "cli.py")
    assert any(forbidden(name, SANDBOX) and not top for name, _line, top in found)


# who may be handed the whole `Store` facade: the store itself, the composition roots (the
# bot's, and `open_workflow`'s for Python callers), the commands that open a store of their
# own, and the package's public names; every other layer names the role it uses
# (bot/store/roles.py, bot/core/ports.py, bot/api's ApiStore, bot/observability's MetricsSource)
WHOLE_STORE = (
    "bot/store/",
    "bot/wiring/",
    "bot/runtime.py",
    "bot/cli.py",
    "bot/audit/commands.py",
    "bot/__init__.py",
)


def whole_store_users() -> list[str]:
    return [
        f"{path.relative_to(REPO).as_posix()}:{line}"
        for path in [*files_in("bot"), *files_in("handlers")]
        for name, line, _top in imports_of(path)
        if name == "bot.store.Store"
    ]


def test_only_the_root_and_the_commands_are_handed_the_whole_store() -> None:
    """A layer handed all of the store's methods can come to use any of them; each is typed
    with the role it uses, and the root alone passes the one Store object to all of them."""
    broken = [where for where in whole_store_users() if not where.startswith(WHOLE_STORE)]
    assert not broken, "\n".join(broken)


def test_the_store_rule_bites() -> None:
    assert any(where.startswith("bot/wiring/bootstrap.py:") for where in whole_store_users())


@pytest.mark.parametrize(
    ("module", "never"),
    [
        ("bot.core.workflow", ("sqlalchemy", "slack_sdk", "slack_bolt", "aiohttp", "bot.sandbox")),
        ("bot.sfvopi", ("sqlalchemy", "slack_sdk", "bot.core.workflow", "bot.store")),
        ("bot.core.preview", ("httpx", "bot.sfvopi", "sqlalchemy", "slack_sdk")),
        ("bot.store", ("httpx", "bot.sfvopi", "slack_sdk")),
        ("bot.slack.blocks", ("sqlalchemy", "httpx", "bot.store", "bot.sfvopi")),
        ("bot.slack.http", ("bot.sandbox",)),
        ("bot.api.routes", ("slack_bolt", "slack_sdk", "sqlalchemy", "bot.slack", "bot.sandbox")),
        ("bot.cli", ("bot.sandbox", "sqlalchemy", "slack_bolt")),
    ],
)
def test_what_a_module_pulls_in_transitively(module: str, never: tuple[str, ...]) -> None:
    code = (
        f"import sys, {module}\n"
        f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] in {never!r} "
        f"or any(m == n or m.startswith(n + '.') for n in {never!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.split()
    assert not loaded, f"importing {module} loads {loaded[:5]}"


MAX_LINES = 450


def test_no_module_is_over_450_lines() -> None:
    """A module a reader cannot hold in their head is split by concept, not allowed to grow."""
    sizes = {
        path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in [*files_in("bot"), *files_in("handlers")]
    }
    big = [f"{name}: {n} lines" for name, n in sorted(sizes.items()) if n > MAX_LINES]
    assert not big, "\n".join(big)


def module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of bot/ and handlers/ -> ours it imports (anywhere in it, lazily too);
    `from package import module` goes to the module, `from module import name` to the module."""
    modules = {module_of(path): path for path in [*files_in("bot"), *files_in("handlers")]}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                inside = {f"{node.module}.{alias.name}" for alias in node.names}
                found |= inside & modules.keys()
                if inside - modules.keys():
                    found.add(node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    order = itertools.count()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = next(order)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_our_modules() -> None:
    """An import that comes back round (even inside a function) means two modules are one
    concept split badly, or a shared piece belongs in a third."""
    assert not cycles(import_graph()), "\n".join(" <-> ".join(c) for c in cycles(import_graph()))


def test_the_cycle_check_bites() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not cycles({"a": {"b"}, "b": set()})

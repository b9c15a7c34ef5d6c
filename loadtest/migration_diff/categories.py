"""The classification table: path patterns -> category, first match wins.

The table is data, printed in the report, so a reader who disagrees can pass their own
(``--categories FILE``, a JSON or YAML list of ``[pattern, category, why]``) and re-run.

No rule names a transport, client, server or bus: a Python module the rules leave to app code (or a custom
rule puts in reusable infrastructure) is classed by what it does, the same for both apps
(``measure.by_content``): app code when a code line names one of the app's operations or domain value types,
reusable infrastructure otherwise.
Patterns are ``fnmatch`` patterns on the path relative to the repository root, with ``/``
separators; ``*`` also matches ``/``. For compose services the path is
``docker-compose.yml#<service>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

APP = "app"
INFRA = "infrastructure"
INTERFACE = "interface"
WIRING = "wiring"
DEPLOY = "deploy"
TESTS = "tests"

CATEGORIES: tuple[str, ...] = (INTERFACE, INFRA, APP, WIRING, DEPLOY, TESTS)
"""Every category, in reading order (the walkthrough's order)."""

CODE_CATEGORIES: tuple[str, ...] = (INTERFACE, INFRA, APP, WIRING)
"""The categories of program code (the rest is deployment config and tests)."""

LABELS = {
    APP: "app code",
    INFRA: "reusable infrastructure",
    INTERFACE: "interface definitions",
    WIRING: "entrypoints and wiring",
    DEPLOY: "deployment config",
    TESTS: "tests",
}


@dataclass(frozen=True)
class Rule:
    pattern: str
    category: str
    why: str

    def matches(self, path: str) -> bool:
        return fnmatchcase(path, self.pattern)


DEFAULT_RULES: tuple[Rule, ...] = (
    # Tests first: a test of the bus is a test, not infrastructure.
    Rule("tests/*", TESTS, "everything under tests/"),
    Rule("*/tests/*", TESTS, "a tests/ folder anywhere"),
    Rule("*/test_*.py", TESTS, "a pytest module anywhere"),
    # Deployment config.
    Rule("k8s/*", DEPLOY, "Kubernetes manifests (kustomize base and overlays)"),
    Rule("docker-compose*.yml*", DEPLOY, "compose file and its services"),
    Rule("compose*.y*ml*", DEPLOY, "compose file and its services"),
    Rule("*Dockerfile*", DEPLOY, "container image build"),
    Rule(".dockerignore", DEPLOY, "container image build"),
    # Interface definitions: the contract between services.
    Rule("proto/*", INTERFACE, "the gRPC contract (generated code is never committed)"),
    Rule("*.proto", INTERFACE, "a protobuf contract"),
    Rule("*/events.py", INTERFACE, "event types: the contract between publishers and handlers, like proto messages"),
    Rule("*/messages.py", INTERFACE, "message types exchanged between services"),
    # Entrypoints and wiring.
    Rule("*/bootstrap.py", WIRING, "composition root"),
    Rule("*/container.py", WIRING, "composition root"),
    Rule("*/wiring.py", WIRING, "composition root"),
    Rule("*/wsgi.py", WIRING, "gunicorn entrypoint"),
    Rule("*/serve.py", WIRING, "service process entrypoint"),
    Rule("*/worker.py", WIRING, "worker process entrypoint"),
    Rule("*/__main__.py", WIRING, "process entrypoint"),
    Rule("*/__init__.py", WIRING, "package wiring"),
    Rule("harness/launcher.py", WIRING, "local launcher of every variant"),
    Rule("harness/topology.py", WIRING, "which processes make up each variant"),
    Rule("shared/config.py", WIRING, "settings from the environment"),
    # Everything else.
    Rule("*.md", APP, "the app's own documentation (prose: comment lines, no code lines)"),
    Rule("*", APP, "everything else; a Python module here is then classed by what it does (below)"),
)


class Classifier:
    """Maps a repository-relative path to a category with the first matching rule."""

    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES):
        unknown = {r.category for r in rules} - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; known: {', '.join(CATEGORIES)}")
        if not rules or rules[-1].pattern != "*":
            rules = (*rules, Rule("*", APP, "fallback"))
        self.rules = tuple(rules)

    def rule(self, path: str) -> Rule:
        return next(r for r in self.rules if r.matches(path))

    def __call__(self, path: str) -> str:
        return self.rule(path).category


def load_rules(path: Path) -> tuple[Rule, ...]:
    """Rules from a JSON or YAML file holding a list of ``[pattern, category, why]`` (or mappings)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    return tuple(_rule(item) for item in data)


def _rule(item: object) -> Rule:
    if isinstance(item, dict):
        return Rule(str(item["pattern"]), str(item["category"]), str(item.get("why", "")))
    if isinstance(item, list | tuple) and len(item) in (2, 3):
        return Rule(str(item[0]), str(item[1]), str(item[2]) if len(item) == 3 else "")
    raise ValueError(f"a rule is [pattern, category, why] or a mapping, not {item!r}")


def table_rows(rules: Iterable[Rule]) -> list[tuple[str, str, str]]:
    return [(r.pattern, r.category, r.why) for r in rules]

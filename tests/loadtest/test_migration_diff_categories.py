"""The classification table of the migration diff: path patterns -> category, first match wins, replaceable."""

import json
from pathlib import Path

import pytest

from loadtest.migration_diff import cli, model
from loadtest.migration_diff.categories import APP, DEPLOY, INFRA, INTERFACE, TESTS, WIRING, Classifier, Rule, load_rules
from loadtest.migration_diff.measure import by_content


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("proto/monitoring.proto", INTERFACE),
        ("proto/__init__.py", INTERFACE),
        ("event_driven/monolith/events.py", INTERFACE),
        ("event_driven/split/rabbitmq_bus.py", APP),  # no rule names a transport or a bus: content decides (below)
        ("direct_calls/split/grpc_transport.py", APP),
        ("direct_calls/monolith/services.py", APP),
        ("direct_calls/monolith/backend.py", APP),
        ("event_driven/monolith/backend.py", APP),
        ("event_driven/monolith/handlers.py", APP),
        ("direct_calls/split/bootstrap.py", WIRING),
        ("direct_calls/split/serve.py", WIRING),
        ("event_driven/split/serve.py", WIRING),
        ("direct_calls/split/__init__.py", WIRING),
        ("direct_calls/monolith/wsgi.py", WIRING),
        ("direct_calls/split/wsgi.py", WIRING),
        ("event_driven/split/wsgi.py", WIRING),
        ("event_driven/split/bootstrap.py", WIRING),
        ("k8s/event-split/rabbitmq.yaml", DEPLOY),
        ("docker-compose.yml#event-split-api", DEPLOY),
        ("Dockerfile", DEPLOY),
        ("tests/bus/test_rabbitmq_bus.py", TESTS),  # a test of the bus is a test, not infrastructure
        ("tests/unit/test_event_codec.py", TESTS),
    ],
)
def test_the_default_table_classifies_by_role(path, category):
    assert Classifier()(path) == category


ROOT = Path(__file__).resolve().parents[2]


def _operations() -> list:
    ops = model.proto_operations("proto/monitoring.proto", (ROOT / "proto" / "monitoring.proto").read_text())
    ops += model.event_operations("event_driven/monolith/events.py", (ROOT / "event_driven/monolith/events.py").read_text())
    handlers = ROOT / "event_driven/monolith/handlers.py"
    return ops + model.method_operations("event_driven/monolith/handlers.py", handlers.read_text())


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("event_driven/split/rabbitmq_bus.py", INFRA),  # carries any event: could serve another app unchanged
        ("event_driven/split/rabbitmq_connection.py", INFRA),
        ("event_driven/monolith/memory_bus.py", INFRA),
        ("direct_calls/split/discovery.py", INFRA),
        ("direct_calls/split/grpc_health.py", INFRA),
        ("direct_calls/split/grpc_transport.py", APP),  # names the app's RPC methods
        ("direct_calls/split/http_transport.py", APP),
        ("direct_calls/split/codec.py", INFRA),  # encodes any dataclass by reflection
        ("event_driven/split/codec.py", APP),  # an allowlist of the domain's value types
        ("event_driven/monolith/handlers.py", APP),
        ("event_driven/split/serve.py", WIRING),  # a rule's category other than app or infrastructure stands
    ],
)
def test_program_modules_are_classed_by_what_they_do_the_same_rule_for_both_apps(path, category):
    text = (ROOT / path).read_text()
    assert by_content(Classifier()(path), path, text, _operations(), model.domain_types(ROOT)) == category


def test_domain_value_types_exclude_errors():
    types = model.domain_types(ROOT)
    assert {"Target", "NewResult", "Alert"} <= types
    assert not {"DomainError", "Unavailable", "NotFound"} & types


def test_the_first_matching_rule_wins_and_everything_else_is_app_code():
    classify = Classifier((Rule("*/special.py", INFRA, "why"), Rule("*.py", WIRING, "why")))
    assert classify("a/special.py") == INFRA
    assert classify("a/other.py") == WIRING
    assert classify("a/README.md") == APP  # the fallback added to any table
    assert classify.rule("a/special.py").why == "why"


def test_an_unknown_category_is_refused():
    with pytest.raises(ValueError, match="unknown categories"):
        Classifier((Rule("*", "glue", ""),))


def test_a_reader_can_replace_the_table_with_a_json_or_yaml_file(tmp_path):
    (tmp_path / "rules.json").write_text(json.dumps([["*/grpc_transport.py", "infrastructure", "I disagree"], ["*", "app"]]))
    (tmp_path / "rules.yaml").write_text("- {pattern: '*/handlers.py', category: wiring, why: routing table}\n")
    assert Classifier(load_rules(tmp_path / "rules.json"))("direct_calls/split/grpc_transport.py") == INFRA
    assert Classifier(load_rules(tmp_path / "rules.yaml"))("event_driven/monolith/handlers.py") == WIRING


def test_the_table_is_printable_from_the_command_line(tmp_path, capsys):
    (tmp_path / "rules.json").write_text(json.dumps([["k8s/*", "deploy", "manifests"]]))
    assert cli.main(["--categories", str(tmp_path / "rules.json"), "--print-categories"]) == 0
    assert json.loads(capsys.readouterr().out) == [["k8s/*", "deploy", "manifests"]]

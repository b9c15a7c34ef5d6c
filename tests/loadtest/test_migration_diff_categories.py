"""The classification table of the migration diff: path patterns -> category, first match wins, replaceable."""

import json

import pytest

from loadtest.migration_diff import cli
from loadtest.migration_diff.categories import APP, DEPLOY, INFRA, INTERFACE, TESTS, WIRING, Classifier, Rule, load_rules


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("proto/monitoring.proto", INTERFACE),
        ("proto/__init__.py", INTERFACE),
        ("event_driven/monolith/events.py", INTERFACE),
        ("event_driven/split/rabbitmq_bus.py", INFRA),
        ("event_driven/monolith/memory_bus.py", INFRA),
        ("event_driven/monolith/rpc.py", INFRA),
        ("direct_calls/split/codec.py", INFRA),
        ("direct_calls/split/deadlines.py", INFRA),
        ("direct_calls/split/grpc_transport.py", INFRA),  # transports count like a bus implementation
        ("direct_calls/split/http_transport.py", INFRA),
        ("direct_calls/split/grpc_health.py", INFRA),
        ("event_driven/split/codec.py", INFRA),
        ("event_driven/split/rabbitmq_connection.py", INFRA),  # the RabbitMQ bus, in one module or several
        ("event_driven/split/rabbitmq_topology.py", INFRA),
        ("event_driven/split/rabbitmq/consumer.py", INFRA),
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

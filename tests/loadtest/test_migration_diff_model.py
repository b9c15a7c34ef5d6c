"""The migration diff's cost model, dependency detection and deployment units, on small fixtures."""

import textwrap
from pathlib import Path

from loadtest.migration_diff import deploy, deps, model


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


PROTO = """
// Comments are not operations: rpc Commented(A) returns (B) {}
service Monitor {
  rpc CreateTarget(CreateTargetRequest) returns (CreateTargetResponse) {}
  rpc ListTargets(ListTargetsRequest) returns (ListTargetsResponse) {}
}
message Target {
  string id = 1;
}
message CreateTargetRequest {
  Target target = 1;
}
"""


def test_operations_are_the_rpc_methods_of_the_proto():
    assert [o.name for o in model.proto_operations("p.proto", PROTO)] == ["CreateTarget", "ListTargets"]


def test_operations_are_the_leaf_event_classes_of_an_interface_module():
    events = textwrap.dedent(
        """
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Event:
            event_id: str

        class Request(Event):
            pass

        @dataclass(frozen=True)
        class TargetCreateRequested(Request):
            wire = "target.create_requested"

        @dataclass(frozen=True)
        class AlertOpened(Event):
            pass

        class NotAnEvent:
            pass
        """
    )
    ops = model.event_operations("events.py", events)
    assert [(o.name, o.wire_names) for o in ops] == [("TargetCreateRequested", ("target.create_requested",)), ("AlertOpened", ())]


def test_operations_are_also_the_methods_a_routing_table_serves_over_the_bus():
    handlers = textwrap.dedent(
        """
        SUBSCRIPTIONS = {
            "monitor": (Method(MONITOR, create_target), Method(MONITOR_READS, get_target), On(ALERTING, CheckCompleted, apply)),
        }
        other = Method(MONITOR)
        """
    )
    assert [o.name for o in model.method_operations("handlers.py", handlers)] == ["create_target", "get_target"]


def test_per_operation_lines_are_those_of_functions_and_messages_named_after_an_operation_or_naming_one():
    ops = model.proto_operations("p.proto", PROTO)
    proto_lines = model.per_operation_lines("p.proto", textwrap.dedent(PROTO).lstrip("\n"), ops)
    assert proto_lines == {2, 3, 8, 9, 10}  # the two rpc lines and CreateTargetRequest; not the Target message
    client = textwrap.dedent(
        """
        class Client:
            def __init__(self, stub):
                self._stub = stub

            def create_target(self, new):
                request = make(new)
                return self._stub.call(request)

            def close(self):
                self._stub.close()

        ROUTES = {"list_targets": 1}
        """
    ).lstrip("\n")
    assert model.per_operation_lines("client.py", client, ops) == {4, 5, 6, 11}


def test_the_fit_is_fixed_plus_per_operation():
    fit = model.Fit("as built", operations=10, churn=1200, per_op_lines=200, files=12)
    assert (fit.fixed, fit.per_op) == (1000, 20.0)
    assert fit.at(50) == 2000
    assert fit.operations_for(50_000) == 2450
    assert model.Fit("flat", 10, 500, 0, 3).operations_for(50_000) is None


def test_new_dependencies_are_third_party_imports_of_the_split_mapped_to_pypi(tmp_path):
    root = write(
        tmp_path, {"shared/__init__.py": "", "proto/__init__.py": "", "requirements.txt": "grpcio==1.2.3\nPyYAML==6.0\n"}
    )
    monolith = {"m/a.py": "import json\nimport yaml\nfrom shared import x\n"}
    split = {
        "s/a.py": "import json\nimport yaml\n",
        "s/b.py": "import grpc\nfrom google.protobuf import json_format\nfrom proto.generated import monitoring_pb2\n",
        "s/c.py": "def lazy():\n    import pika\n",
    }
    found, generated = deps.new_dependencies(root, monolith, split)
    assert [(d.import_name, d.distribution, d.version, d.modules) for d in found] == [
        ("google.protobuf", "protobuf", None, ["s/b.py"]),
        ("grpc", "grpcio", "1.2.3", ["s/b.py"]),
        ("pika", "pika", None, ["s/c.py"]),
    ]
    assert generated == ["proto.generated.monitoring_pb2"]  # the repository's own generated code, not a dependency


def test_a_variant_uses_the_files_its_kustomization_reaches(tmp_path):
    root = write(
        tmp_path,
        {
            "k8s/base/kustomization.yaml": "resources:\n  - ns.yaml\n",
            "k8s/base/ns.yaml": "kind: Namespace\n",
            "k8s/components/broker/kustomization.yaml": "kind: Component\nresources:\n  - broker.yaml\n",
            "k8s/components/broker/broker.yaml": "image: rabbitmq:4\n",
            "k8s/split/kustomization.yaml": "resources:\n  - ../base\n  - api.yaml\ncomponents:\n  - ../components/broker\n"
            "patches:\n  - path: patch.yaml\nconfigMapGenerator:\n  - name: c\n    files:\n      - key=conf.txt\n",
            "k8s/split/api.yaml": "kind: Deployment\n",
            "k8s/split/patch.yaml": "kind: Deployment\n",
            "k8s/split/conf.txt": "x\n",
            "k8s/split/unused.yaml": "kind: Secret\n",
        },
    )
    assert deploy.kustomize_files(root, root / "k8s" / "split") == {
        "k8s/base/kustomization.yaml",
        "k8s/base/ns.yaml",
        "k8s/components/broker/kustomization.yaml",
        "k8s/components/broker/broker.yaml",
        "k8s/split/kustomization.yaml",
        "k8s/split/api.yaml",
        "k8s/split/patch.yaml",
        "k8s/split/conf.txt",
    }
    assert deploy.images("  - image: rabbitmq:4  # the broker\n    image: 'app:1'\n") == {"rabbitmq:4", "app:1"}


def test_a_compose_service_is_its_block_with_the_comments_above_it(tmp_path):
    root = write(
        tmp_path,
        {
            "docker-compose.yml": """
                x-common: &common
                  image: app
                services:
                  # The monolith.
                  mono:
                    <<: *common
                    profiles: [direct-monolith]

                  db:
                    image: postgres
                volumes:
                  data: {}
                """
        },
    )
    compose = deploy.parse_compose(root)
    assert compose.services["mono"].text == "  # The monolith.\n  mono:\n    <<: *common\n    profiles: [direct-monolith]\n"
    assert compose.services["mono"].profiles == ("direct-monolith",)
    assert compose.services["db"].profiles == () and compose.services["db"].image == "postgres"
    assert "x-common" in compose.common_text and "volumes:" in compose.common_text and "mono" not in compose.common_text

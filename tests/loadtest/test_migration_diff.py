"""The migration diff's counting, on small fixture trees: added files, changed lines, moved functions,
comment-only changes, which split files are added or changed, and the whole run (``python -m loadtest.migration_diff``)."""

import json
import textwrap
from pathlib import Path

import pytest

from loadtest.migration_diff import cli, deps
from loadtest.migration_diff import lines as L
from loadtest.migration_diff.categories import Classifier
from loadtest.migration_diff.changes import account_moves, app_tree, split_tests
from loadtest.migration_diff.changes import tests as collect_test_changes
from loadtest.migration_diff.measure import measure
from loadtest.migration_diff.tree import ADDED, CHANGED, COPIED, REMOVED, UNCHANGED, compare

SPLIT_INIT = '"""The app after the move: what it adds or changes; the rest it imports from the monolith."""\n'


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def move(tmp_path: Path, monolith: dict[str, str], split: dict[str, str]):
    """Compare a fixture app ``app``'s two trees and return its changes by key, after counting."""
    write(tmp_path, {f"app/monolith/{k}": v for k, v in monolith.items()})
    write(tmp_path, {f"app/split/{k}": v for k, v in split.items()})
    tree = compare(tmp_path / "app" / "monolith", tmp_path / "app" / "split")
    changes, unchanged = app_tree("app", tmp_path / "app" / "monolith", tree, Classifier(), False)
    account_moves(changes)
    return tree, {c.key: c for c in changes}, unchanged


# --- line kinds --------------------------------------------------------------------------------------


def test_python_lines_are_code_comment_or_blank_and_docstrings_count_as_comments():
    source = textwrap.dedent('''
        """Module docstring,
        on two lines."""
        import os  # a trailing comment does not make a code line a comment

        # a comment line
        def f(x):
            """Function docstring.

            Its blank line is blank."""
            text = """not a docstring:
            a string literal is code"""
            """A bare string documents the attribute above it."""
            return x
    ''').lstrip("\n")
    kinds = L.line_kinds("m.py", source)
    assert kinds == [
        L.COMMENT, L.COMMENT,  # module docstring
        L.CODE,
        L.BLANK,
        L.COMMENT,
        L.CODE,
        L.COMMENT, L.BLANK, L.COMMENT,  # function docstring
        L.CODE, L.CODE,  # a multi-line string assigned is code
        L.COMMENT,
        L.CODE,
    ]  # fmt: skip
    assert L.count("m.py", source).as_dict() == {"code": 5, "comment": 6, "blank": 2}


def test_other_languages_go_by_their_comment_syntax():
    proto = 'syntax = "proto3";\n// a comment\n/* a block\n   comment */\nmessage A {} // trailing\n\n'
    assert L.line_kinds("x.proto", proto) == [L.CODE, L.COMMENT, L.COMMENT, L.COMMENT, L.CODE, L.BLANK]
    yaml_text = "# comment\nkind: Deployment\n\n  - image: x  # trailing\n"
    assert L.line_kinds("k8s/a.yaml", yaml_text) == [L.COMMENT, L.CODE, L.BLANK, L.CODE]
    assert L.line_kinds("docker-compose.yml#api", "  # why\n  api:\n") == [L.COMMENT, L.CODE]


# --- counting the split against the monolith -----------------------------------------------------------------------


MONOLITH = {
    "__init__.py": '"""The monolith."""\n',
    "services.py": '''
        """The services."""


        class Monitor:
            def __init__(self, alerting):
                self._alerting = alerting

            def ingest(self, result):
                # evaluate the result
                return self._alerting.evaluate(result)

            def ping(self):
                return True
        ''',
    "edge.py": '''
        """The edge."""


        def handle(backend):
            return backend.ingest(1)
        ''',
}


def test_an_added_file_counts_all_its_lines_as_added(tmp_path):
    _, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "client.py": '"""A client."""\n\nX = 1\n'})
    client = changes["app/split/client.py"]
    assert client.status == ADDED and client.old_path is None
    assert client.added.as_dict() == {"code": 1, "comment": 1, "blank": 1}
    assert client.removed.total == 0
    assert client.why == "A client."


def test_a_changed_line_counts_one_added_and_one_removed_code_line(tmp_path):
    changed = textwrap.dedent(MONOLITH["services.py"]).replace("return True", "return False")
    _, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": changed})
    services = changes["app/split/services.py"]
    assert services.status == CHANGED and services.old_path == "app/monolith/services.py"
    assert services.added.as_dict() == {"code": 1, "comment": 0, "blank": 0}
    assert services.removed.as_dict() == {"code": 1, "comment": 0, "blank": 0}


def test_a_comment_only_change_changes_no_code_line(tmp_path):
    changed = textwrap.dedent(MONOLITH["services.py"]).replace("# evaluate the result", "# have alerting evaluate it")
    changed = changed.replace('"""The services."""', '"""The services, split."""')
    _, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": changed})
    services = changes["app/split/services.py"]
    assert services.added.as_dict() == {"code": 0, "comment": 2, "blank": 0}
    assert services.removed.as_dict() == {"code": 0, "comment": 2, "blank": 0}


def test_a_moved_function_counts_as_moved_not_as_added_and_removed(tmp_path):
    source = textwrap.dedent(MONOLITH["services.py"])
    ping = "    def ping(self):\n        return True\n"
    moved = source.replace("\n" + ping, "").replace(
        "    def ingest(self, result):", ping.rstrip("\n") + "\n\n    def ingest(self, result):"
    )
    assert moved != source and moved.count("def ping") == 1
    _, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": moved})
    services = changes["app/split/services.py"]
    assert services.moved == 2  # the two code lines of ping
    assert services.added.code == 0 and services.removed.code == 0


def test_a_function_moved_to_another_module_of_the_move_is_moved_too(tmp_path):
    source = textwrap.dedent(MONOLITH["edge.py"])
    _, changes, _ = move(
        tmp_path,
        MONOLITH,
        {
            "__init__.py": SPLIT_INIT,
            "edge.py": '"""The edge, without handle."""\n',
            "handlers.py": '"""Handlers."""\n\n\n' + source.split('"""The edge."""\n\n\n', 1)[1],
        },
    )
    assert changes["app/split/edge.py"].removed.code == 0
    assert changes["app/split/handlers.py"].added.code == 0
    assert changes["app/split/handlers.py"].moved == 2


def test_a_split_file_is_changed_against_its_twin_and_monolith_files_without_one_are_unchanged(tmp_path):
    client = '"""A client."""\nfrom app.monolith.services import Monitor\n'
    tree, changes, unchanged = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "client.py": client})
    assert tree.status == {"__init__.py": CHANGED, "client.py": ADDED, "services.py": UNCHANGED, "edge.py": UNCHANGED}
    assert tree.source["services.py"] == tmp_path / "app" / "monolith" / "services.py"
    assert tree.source["client.py"] == tmp_path / "app" / "split" / "client.py"
    # The split imports the monolith's services: they are the base, not part of the move.
    assert unchanged == ["app/monolith/edge.py", "app/monolith/services.py"]
    assert set(changes) == {"app/split/__init__.py", "app/split/client.py"}
    assert changes["app/split/__init__.py"].old_path == "app/monolith/__init__.py"


def test_a_split_file_identical_to_its_twin_is_a_copy_and_the_split_removes_nothing(tmp_path):
    copy = textwrap.dedent(MONOLITH["services.py"]).lstrip("\n")
    tree, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": copy})
    assert tree.status["services.py"] == COPIED
    assert changes["app/split/services.py"].added.total == changes["app/split/services.py"].removed.total == 0
    assert tree.status["edge.py"] == UNCHANGED
    assert REMOVED not in tree.status.values()


@pytest.mark.parametrize("line", [
    "from app.monolith import services as monolith",
    "from app.monolith.services import Monitor",
    "import app.monolith.services",
])
def test_a_split_file_that_imports_its_twin_extends_it_and_counts_as_added(tmp_path, line):
    extension = f'"""The services of the split: those of the monolith, plus one."""\n{line}\n\nEXTRA = 1\n'
    tree, changes, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": extension})
    assert tree.status["services.py"] == ADDED
    assert changes["app/split/services.py"].removed.total == 0


def test_a_split_file_that_imports_another_monolith_module_is_still_changed_against_its_twin(tmp_path):
    rewrite = '"""Rewritten."""\nfrom app.monolith.edge import handle\n\nEXTRA = 1\n'
    tree, _, _ = move(tmp_path, MONOLITH, {"__init__.py": SPLIT_INIT, "services.py": rewrite})
    assert tree.status["services.py"] == CHANGED


def test_files_pair_by_path_in_subpackages_too(tmp_path):
    monolith = {**MONOLITH, "bus/__init__.py": '"""Bus."""\n', "bus/memory.py": "X = 1\n"}
    split = {"__init__.py": SPLIT_INIT, "bus/__init__.py": '"""Another bus."""\n', "bus/broker.py": "Y = 2\n"}
    tree, _, _ = move(tmp_path, monolith, split)
    assert tree.status["bus/__init__.py"] == CHANGED
    assert tree.status["bus/broker.py"] == ADDED
    assert tree.status["bus/memory.py"] == UNCHANGED  # the split imports it from the monolith if it needs it


def test_a_missing_or_empty_split_is_not_measured(tmp_path):
    write(tmp_path, {f"app/monolith/{k}": v for k, v in MONOLITH.items()})
    assert compare(tmp_path / "app" / "monolith", tmp_path / "app" / "split").empty
    (tmp_path / "app" / "split").mkdir()
    assert compare(tmp_path / "app" / "monolith", tmp_path / "app" / "split").empty


# --- the whole run on a fixture repository -----------------------------------------------------------


def fixture_repo(root: Path) -> Path:
    """A tiny repository: direct_calls with monolith and split (gRPC only), proto, k8s, compose, a test."""
    write(
        root,
        {
            "direct_calls/__init__.py": '"""Direct calls."""\n',
            **{f"direct_calls/monolith/{k}": v for k, v in MONOLITH.items()},
            "direct_calls/split/__init__.py": SPLIT_INIT,
            "direct_calls/split/client.py": '''
                """Clients with the methods of the services they replace."""
                import grpc

                from proto.generated import monitoring_pb2 as pb


                class AlertingClient:
                    def __init__(self, addr):
                        self._stub = grpc.insecure_channel(addr)

                    def evaluate(self, result):
                        return self._stub.Evaluate(pb.EvaluateRequest(result=result))
                ''',
            "direct_calls/split/bootstrap.py": '''
                """The composition root of the split: clients instead of services."""
                from direct_calls.monolith.services import Monitor

                from .client import AlertingClient


                def build(settings):
                    return Monitor(AlertingClient(settings.addr))
                ''',
            "direct_calls/monolith/bootstrap.py": '''
                """The composition root of the monolith."""
                from .services import Monitor


                def build(alerting):
                    return Monitor(alerting)
                ''',
            "proto/monitoring.proto": """
                // The internal API.
                syntax = "proto3";
                service Alerting {
                  rpc Evaluate(EvaluateRequest) returns (EvaluateResponse) {}
                }
                message EvaluateRequest { string result = 1; }
                message EvaluateResponse {}
                """,
            "k8s/base/kustomization.yaml": "resources:\n  - namespace.yaml\n",
            "k8s/base/namespace.yaml": "kind: Namespace\n",
            "k8s/direct-monolith/kustomization.yaml": "resources:\n  - ../base\n  - api.yaml\n",
            "k8s/direct-monolith/api.yaml": "# The api.\nkind: Deployment\nimage: app\nreplicas: 1\n",
            "k8s/direct-split-grpc/kustomization.yaml": "resources:\n  - ../base\n  - api.yaml\n  - alerting.yaml\n",
            "k8s/direct-split-grpc/api.yaml": "# The api.\nkind: Deployment\nimage: app\nreplicas: 2\n",
            "k8s/direct-split-grpc/alerting.yaml": "# The alerting service.\nkind: Deployment\nimage: app\n",
            "docker-compose.yml": """
                services:
                  # The monolith.
                  direct-monolith-api:
                    image: app
                    profiles: [direct-monolith]
                  # The split's api.
                  direct-split-grpc-api:
                    image: app
                    profiles: [direct-split-grpc]
                """,
            "tests/unit/test_client.py": '"""Tests of the gRPC client."""\nfrom direct_calls.split.client import Client\n',
            "tests/failure/test_split_failures.py": (
                '"""Failures of the split."""\nfrom harness.launcher import start\n\nVARIANT = "direct-split-grpc"\n'
            ),
            "results/seed/seed.txt": SEED,
        },
    )
    return root


SEED = """
## 📈 Success Metrics

### Traditional Microservices Migration (Direct Calls)

| Metric | Result |
|--------|--------|
| Code churn | 50,000+ lines changed |
| Files modified | 500+ files |
| Team morale | Low |

## ✅ The Bottom Line

| Aspect | Without Events | With Events | Difference |
|--------|---------------|-------------|------------|
| **Code Changes** | 500+ files | 1-2 files | **250x less work** |
| **Cost** | $250k+ | $15k | **15x cheaper** |
"""


def test_the_whole_run_measures_the_fixture_repository(tmp_path):
    root = fixture_repo(tmp_path / "repo")
    m = measure(root, Classifier(), root / "results/seed/seed.txt")
    direct = m.apps["direct_calls"]
    assert direct.measured
    keys = {c.key: c.status for c in direct.touched}
    assert keys == {
        "direct_calls/split/__init__.py": CHANGED,
        "direct_calls/split/bootstrap.py": CHANGED,
        "direct_calls/split/client.py": ADDED,
        "proto/monitoring.proto": ADDED,
        "k8s/direct-split-grpc/alerting.yaml": ADDED,
        "k8s/direct-split-grpc/api.yaml": CHANGED,
        "k8s/direct-split-grpc/kustomization.yaml": CHANGED,
        "docker-compose.yml#direct-split-grpc-api": CHANGED,
        "tests/unit/test_client.py": ADDED,
        "tests/failure/test_split_failures.py": ADDED,  # starts only the split variant, through the launcher
    }
    assert direct.file_count() == 10
    api = next(c for c in direct.touched if c.key == "k8s/direct-split-grpc/api.yaml")
    assert (api.added.code, api.removed.code) == (1, 1)
    assert [o.name for o in direct.operations] == ["Evaluate"]
    assert [d.distribution for d in direct.dependencies] == ["grpcio"]
    assert direct.generated_imports == ["proto.generated.monitoring_pb2"]
    assert direct.unchanged == ["direct_calls/monolith/edge.py", "direct_calls/monolith/services.py"]
    assert direct.touched_sites() == 0  # services.py is the monolith's own: no call site in app code changed
    event = m.apps["event_driven"]
    assert not event.measured and event.reason == "not measured: event_driven/monolith does not exist yet"


def test_the_cli_writes_every_artifact_and_links_every_touched_file(tmp_path):
    root = fixture_repo(tmp_path / "repo")
    out = tmp_path / "out"
    assert cli.main(["--root", str(root), "--out", str(out), "--seed", str(root / "results/seed/seed.txt")]) == 0
    for name in ("SECTION.md", "migration.json", "index.html", "WALKTHROUGH.md", "direct_calls.diff", "event_driven.diff",
                 "lines_by_category.png", "total_cost.png", "extrapolation.png"):  # fmt: skip
        assert (out / name).is_file(), name
    data = json.loads((out / "migration.json").read_text())
    touched = data["apps"]["direct_calls"]["changes"]
    index = (out / "index.html").read_text()
    for change in touched:
        page = next((out / "html" / "direct_calls").glob(change["key"].replace("/", "__").replace("#", "__") + ".html"))
        assert f'href="html/direct_calls/{page.name}"' in index
        assert "<table" in page.read_text()
    walkthrough = (out / "WALKTHROUGH.md").read_text()
    order = [
        walkthrough.index(k) for k in ("proto/monitoring.proto", "client.py", "bootstrap.py", "k8s/", "tests/unit/test_client.py")
    ]
    assert order == sorted(order)  # interfaces, app code, wiring, deploy, tests
    assert "Clients with the methods of the services they replace." in walkthrough
    assert "The composition root of the split: clients instead of services." in walkthrough
    section = (out / "SECTION.md").read_text()
    assert "not measured: event_driven/monolith does not exist yet" in section
    assert "| Code churn | 50,000+ lines changed |" in section
    assert "not measurable here: dollars" in section
    assert "docstrings count as comments" in section
    diff = (out / "direct_calls.diff").read_text()
    assert "--- /dev/null\n+++ b/direct_calls/split/client.py" in diff
    assert "--- a/k8s/direct-monolith/api.yaml\n+++ b/k8s/direct-split-grpc/api.yaml" in diff


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_the_cli_says_a_split_is_not_measured_yet_instead_of_failing(tmp_path, state, capsys):
    root = write(tmp_path, {f"direct_calls/monolith/{k}": v for k, v in MONOLITH.items()})
    if state == "empty":
        (root / "direct_calls" / "split").mkdir()
    assert cli.main(["--root", str(root), "--no-charts"]) == 0
    said = "does not exist yet" if state == "missing" else "is empty"
    assert f"direct_calls: not measured: direct_calls/split {said}" in capsys.readouterr().out
    assert f"not measured: direct_calls/split {said}" in (root / "results/migration/SECTION.md").read_text()


def test_help_describes_the_tool(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    assert "--categories" in capsys.readouterr().out


def test_a_test_module_shared_by_monolith_and_split_counts_only_the_split_lines_for_the_move(tmp_path):
    conftest = '''
        """Bus implementations the suite runs against."""
        import pytest

        from app.monolith.memory import MemoryBus


        def memory_bus():
            return MemoryBus()


        def broker_bus():
            from app.split.broker import BrokerBus

            return BrokerBus()


        BUSES = [
            pytest.param(memory_bus, id="memory"),
            pytest.param(broker_bus, id="broker"),
        ]


        @pytest.fixture(params=BUSES)
        def bus(request):
            made = request.param()
            if request.param is broker_bus:
                request.getfixturevalue("broker_url")
            return made
        '''
    split_only = '"""Tests of the broker bus."""\nfrom app.monolith.events import E\nfrom app.split.broker import BrokerBus\n'
    modules = {}
    for path, text in {"tests/conftest.py": conftest, "tests/test_broker.py": split_only}.items():
        source = textwrap.dedent(text).lstrip("\n")
        modules[path] = (source, deps.imports(source))
    sorted_tests = split_tests(modules, "app", set())
    assert list(sorted_tests.split) == ["tests/test_broker.py"]  # imports the split at module level: the split's own
    assert list(sorted_tests.shared) == ["tests/conftest.py"]  # imports it only inside a function: extended by the move
    monolith_version = sorted_tests.monolith_version("tests/conftest.py")
    assert "broker" not in monolith_version and "def memory_bus" in monolith_version and "def bus(request)" in monolith_version
    (change,) = [c for c in collect_test_changes(sorted_tests, Classifier(), False) if c.key == "tests/conftest.py"]
    change.prepare()
    change.account()
    assert change.status == CHANGED and change.added.code == 6 and change.removed.code == 0


VARIANT_NAMES = {"direct-monolith", "direct-split-grpc", "direct-split-http", "event-monolith", "event-split"}


def test_a_test_that_starts_only_split_variants_of_the_app_through_the_launcher_is_the_splits():
    failures = '''
        """Failures of the split variants, as real processes."""
        import pytest

        from harness.launcher import start


        @pytest.fixture(params=["direct-split-grpc", "direct-split-http"])
        def running(request):
            with start(request.param) as variant:
                yield variant
        '''
    sources = {
        "tests/failure/test_failures.py": failures,
        "tests/contract/conftest.py": 'from harness.launcher import start\n\nALL = ["direct-monolith", "direct-split-grpc"]\n',
        "tests/reliability/test_event.py": 'from harness.launcher import start\n\nNAME = "event-split"\n',
        "tests/compare/test_faults.py": 'FAULTED = ["direct-split-grpc"]\n',  # names a split variant, starts nothing
    }
    modules = {}
    for path, text in sources.items():
        source = textwrap.dedent(text).lstrip("\n")
        modules[path] = (source, deps.imports(source))
    direct = split_tests(modules, "direct_calls", set(), ("direct-split-grpc", "direct-split-http"), VARIANT_NAMES)
    assert list(direct.split) == ["tests/failure/test_failures.py"]
    assert not direct.monolith and not direct.shared
    event = split_tests(modules, "event_driven", set(), ("event-split",), VARIANT_NAMES)
    assert list(event.split) == ["tests/reliability/test_event.py"]


FIXTURE_TOPOLOGY = '''
    """A fixture topology: every app's variants (only their names, apps and process counts are read)."""
    from dataclasses import dataclass


    @dataclass(frozen=True)
    class Variant:
        name: str
        app: str
        processes: tuple = ("api",)
        monolith: str | None = None

        @property
        def is_split(self):
            return self.monolith is not None


    VARIANTS = {v.name: v for v in (
        Variant("direct-monolith", "direct_calls"),
        Variant("direct-split-grpc", "direct_calls", ("a", "b"), "direct-monolith"),
        Variant("event-monolith", "event_driven"),
        Variant("event-split", "event_driven", ("a", "b"), "event-monolith"),
        Variant("direct-plain-monolith", "direct_plain"),
        Variant("direct-plain-split-http", "direct_plain", ("a", "b"), "direct-plain-monolith"),
    )}
'''


def test_a_plain_apps_move_is_measured_by_the_same_rules_and_set_beside_the_disciplined_one(tmp_path):
    from loadtest.migration_diff import report, typical

    root = fixture_repo(tmp_path / "repo")
    write(root, {
        "harness/topology.py": FIXTURE_TOPOLOGY,
        "direct_plain/__init__.py": '"""The direct app written without seams."""\n',
        "direct_plain/monolith/services.py": '''
            """Services that call each other and share one database."""


            def ingest(db, result):
                db.execute("INSERT INTO results VALUES (?)", result)
                threshold = db.execute("SELECT failure_threshold FROM targets").scalar()
                return threshold
            ''',
        "direct_plain/split/__init__.py": SPLIT_INIT,
        "direct_plain/split/services.py": '''
            """The monitor's side after the move: alerting is a service of its own, called over HTTP."""
            import requests


            def ingest(db, result, alerting_url, target):
                db.execute("INSERT INTO results VALUES (?)", result)
                requests.post(alerting_url, json={"result": result, "threshold": target.failure_threshold})
                db.execute("DELETE FROM outbox WHERE id = ?", result)
            ''',
    })
    m = measure(root, Classifier(), root / "results/seed/seed.txt")
    plain = m.apps["direct_plain"]
    assert plain.measured and plain.variants.split == ("direct-plain-split-http",)
    assert {c.key: c.status for c in plain.touched} == {
        "direct_plain/split/__init__.py": ADDED,
        "direct_plain/split/services.py": CHANGED,
    }
    assert not m.apps["event_driven"].measured and "event_plain" not in m.apps
    rows = {r["app"]: r for r in typical.rows(m)}
    assert set(rows) == {"direct_calls", "direct_plain"}
    assert rows["direct_plain"]["churn_by_scope"]["as built"] == plain.churn()
    assert rows["direct_plain"]["upfront_plus_move"] == plain.upfront.total().code + plain.churn()
    section = report.section(m)
    assert "### The move from a typical monolith: four moves side by side" in section
    assert "|  | direct_calls | direct_plain |" in section
    assert "- **direct**: the seams cost" in section and "- event: not measured" in section
    assert "That move is measured below" in section

"""Every import of the apps resolves to a real module, as mypy sees them (``make typecheck`` runs this too).

mypy runs over ``shared``, ``direct_calls`` and ``event_driven`` with the flags of ``make typecheck``. The test
fails on an unresolved import of a project module: ``import-not-found`` for a module of this repository, or
``attr-defined`` "Module X has no attribute Y" on a project module (a from-import of a name the module does not
have). Every other mypy error is a type error: it is printed but does not fail the test, because the code base
is not type-clean yet (that cleanup is a separate job). Third-party packages installed without type
information are analysed as ``Any`` (``--disable-error-code import-untyped``); a package that is not installed
at all is still ``import-not-found``. ``--ignore-missing-imports`` is not used: it would hide a missing
project module too (``test_a_broken_project_import_is_caught`` shows the flags do not).
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is pinned in requirements.txt")

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("shared", "direct_calls", "event_driven", "direct_plain")
FLAGS = ["--disable-error-code", "import-untyped", "--no-error-summary", "--show-error-codes", "--no-pretty"]
"""The flags of ``make typecheck`` (besides its cache directory)."""

ERROR = re.compile(r"^(?P<where>[^:\n]+:\d+): error: (?P<message>.*?)\s+\[(?P<code>[\w-]+)\]$", re.MULTILINE)
NOT_FOUND = re.compile(r'module named "(?P<module>[\w.]+)"')
NO_ATTRIBUTE = re.compile(r'^Module "(?P<module>[\w.]+)" has no attribute')


def project_packages(root: Path) -> set[str]:
    """Top-level names of this repository's packages and modules (a folder or file at its root)."""
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} | {p.stem for p in root.glob("*.py")}


def run_mypy(targets: list[str], cache_dir: Path) -> tuple[str, str, int]:
    return mypy_api.run([*FLAGS, "--cache-dir", str(cache_dir), *targets])


def unresolved_project_imports(report: str, packages: set[str]) -> list[str]:
    """The lines of a mypy report that are an import of a project module that does not resolve."""
    out = []
    for error in ERROR.finditer(report):
        code, message = error["code"], error["message"]
        if code == "import-not-found":
            module = NOT_FOUND.search(message)
        elif code == "attr-defined":
            module = NO_ATTRIBUTE.search(message)
        else:
            continue
        if module and module["module"].split(".")[0] in packages:
            out.append(f"{error['where']}: {message} [{code}]")
    return out


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = ROOT / ".venv"
    return venv / ".mypy_cache" if venv.is_dir() else tmp_path_factory.mktemp("mypy_cache")


def test_every_import_of_the_apps_resolves(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # mypy finds the project's packages from the working directory
    if not (ROOT / "proto" / "generated" / "monitoring_pb2.pyi").is_file():
        pytest.fail("the gRPC code is not generated: run `make proto`")
    stdout, stderr, status = run_mypy(list(CHECKED), cache_dir)
    assert status in (0, 1), f"mypy did not run (exit {status}):\n{stdout}{stderr}"
    unresolved = unresolved_project_imports(stdout, project_packages(ROOT))
    others = len(ERROR.findall(stdout)) - len(unresolved)
    print(f"mypy: {len(unresolved)} unresolved project imports; {others} other errors (reported, not enforced)")
    print(stdout)
    assert not unresolved, "imports that do not resolve:\n" + "\n".join(unresolved)


def test_a_broken_project_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flags hide no missing project module: a deliberately broken import in a small package is reported."""
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "present.py").write_text("VALUE = 1\n")
    (package / "broken.py").write_text(
        textwrap.dedent(
            """
            import yaml  # installed without type information: not an error with these flags

            from app.missing import thing
            from app.present import ABSENT
            from app import gone
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    stdout, stderr, status = run_mypy(["app"], tmp_path / "cache")
    assert status == 1, stdout + stderr
    unresolved = unresolved_project_imports(stdout, {"app"})
    assert [line.split(": ", 1)[1] for line in unresolved] == [
        'Cannot find implementation or library stub for module named "app.missing" [import-not-found]',
        'Module "app.present" has no attribute "ABSENT" [attr-defined]',
        'Module "app" has no attribute "gone" [attr-defined]',
    ]

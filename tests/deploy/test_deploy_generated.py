"""docker-compose.yml and the k8s overlays are exactly what `python -m harness.deploy` renders from the topology.

So a process, command or environment variable changed in harness/topology.py cannot drift away from the
deployment files: this fails until they are regenerated (and reviewed in the diff).
"""
from __future__ import annotations

import subprocess
import sys

from harness import deploy
from harness.topology import VARIANTS

from .support import ROOT


def test_committed_files_equal_the_renderers_output() -> None:
    diffs = deploy.differences(ROOT)
    assert not diffs, "generated deployment files are out of date; run `python -m harness.deploy`:\n" + "\n".join(
        f"--- {path}\n{diff}" for path, diff in diffs.items()
    )


def test_every_variant_has_an_overlay_of_one_file_per_process() -> None:
    """Overlays stay small and the monolith/split overlays of one app comparable: a kustomization plus one file per
    process, and the configuration of the api pod's balancer."""
    for name, variant in VARIANTS.items():
        files = sorted(p.name for p in (ROOT / "k8s" / name).iterdir())
        assert files == sorted(["kustomization.yaml", "haproxy.cfg", *(f"{p.name}.yaml" for p in variant.processes)]), name


def test_check_mode_reports_drift(tmp_path) -> None:
    for rel, text in deploy.expected_files().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert deploy.differences(tmp_path) == {}
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "k8s/event-split/extra.yaml").write_text(deploy.HEADER)
    assert set(deploy.differences(tmp_path)) == {"docker-compose.yml", "k8s/event-split/extra.yaml"}


def test_the_cli_check_passes_on_the_committed_files() -> None:
    command = [sys.executable, "-m", "harness.deploy", "--check"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

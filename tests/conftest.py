"""Root of the test tree: make the repository root importable (``shared``, ``tests.support``), however pytest is run."""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

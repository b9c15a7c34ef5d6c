"""Which base modules (``shared/``) a monolith runs on: followed name by name through a package's re-exports."""
from pathlib import Path

from loadtest.migration_diff.base_use import used
from tests.loadtest.test_migration_diff import write


def _base(root: Path) -> Path:
    return write(root, {
        "shared/__init__.py": "",
        "shared/rules.py": "from .domain import Target\n\n\ndef evaluate(): ...\n",
        "shared/domain.py": "class Target: ...\n",
        "shared/storage/__init__.py": "from .database import make_engine\nfrom .stores import Store\n",
        "shared/storage/database.py": "def make_engine(): ...\n",
        "shared/storage/stores.py": "from ..core import Core\n\n\nclass Store: ...\n",
        "shared/core.py": "class Core: ...\n",
    })


def test_a_name_imported_from_a_package_counts_the_module_that_defines_it_and_what_that_imports(tmp_path):
    root = _base(tmp_path)
    write(root, {"app/monolith/db.py": "from shared.storage import make_engine\nfrom shared import rules\n"})
    assert used(root, [root / "app/monolith/db.py"]) == {
        "shared/storage/database.py", "shared/rules.py", "shared/domain.py",
    }  # not stores.py or core.py, which the package's __init__ also imports


def test_a_module_that_uses_the_stores_is_charged_for_them_and_their_imports(tmp_path):
    root = _base(tmp_path)
    write(root, {"app/monolith/boot.py": "import shared.domain\nfrom shared.storage import Store\n"})
    assert used(root, [root / "app/monolith/boot.py"]) == {
        "shared/domain.py", "shared/storage/stores.py", "shared/core.py",
    }

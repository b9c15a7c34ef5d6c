"""``python -m loadtest.migration_diff``: see ``cli``."""

from .cli import main

raise SystemExit(main())

"""SQL implementations of the stores of ``shared.ports`` (SQLAlchemy Core; SQLite or PostgreSQL).

Typical composition root::

    store = SqlMonitorStore(make_engine(os.environ["DATABASE_URL"]))

Each store creates its own service's tables when constructed (idempotent, safe from several
processes at once). Importing this package opens nothing.
"""
from .alerting_store import SqlAlertingStore, SqlAlertingUnitOfWork
from .database import create_tables, make_engine, ping, read_transaction, write_transaction
from .monitor_store import SqlMonitorStore
from .notification_store import SqlNotificationStore
from .tables import ALERTING, MONITOR, NOTIFICATION, UTCDateTime

__all__ = [
    "ALERTING",
    "MONITOR",
    "NOTIFICATION",
    "SqlAlertingStore",
    "SqlAlertingUnitOfWork",
    "SqlMonitorStore",
    "SqlNotificationStore",
    "UTCDateTime",
    "create_tables",
    "make_engine",
    "ping",
    "read_transaction",
    "write_transaction",
]

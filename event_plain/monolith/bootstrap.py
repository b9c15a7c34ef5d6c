"""The composition root of the plain event-driven monolith: wiring only."""
from __future__ import annotations

from functools import partial

from shared.config import Settings
from shared.domain import utcnow
from shared.outbound import HttpProber, HttpWebhookSender
from shared.storage.database import create_tables, make_engine

from . import alerting, monitor, notification
from .backend import PlainEventBackend
from .messagebus import MessageBus
from .messages import AlertOpened, AlertResolved, CreateTarget, DeleteTarget, RecordResult, ResultRecorded
from .tables import METADATA
from .webhooks import WebhookDeliveries


def bootstrap(settings: Settings) -> PlainEventBackend:
    """Every service's handlers on one database and one message bus; the webhook sender's threads started."""
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    create_tables(engine, METADATA)
    allow = settings.outbound_allow  # the non-public networks probes and webhooks may reach
    deliveries = WebhookDeliveries(engine, HttpWebhookSender(allow=allow))
    deliveries.start()
    notify = partial(notification.on_alert_changed, clock=utcnow, wake=deliveries.wake)
    bus = MessageBus(
        engine,
        commands={
            CreateTarget: partial(monitor.create_target, clock=utcnow),
            DeleteTarget: monitor.delete_target,
            RecordResult: partial(monitor.record_result, clock=utcnow),
        },
        events={
            ResultRecorded: [partial(alerting.on_result_recorded, clock=utcnow)],
            AlertOpened: [notify],
            AlertResolved: [notify],
        },
    )
    return PlainEventBackend(bus, engine, HttpProber(allow=allow))

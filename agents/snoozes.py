"""Ended snoozes: a sweep delivers a snoozed notification again when its snooze ends, once.

Every worker runs `resurface_snoozed` each SWEEP seconds. One transaction claims the notifications
whose snooze has ended (db/notifications.py `resurface_due`: UPDATE ... RETURNING with SKIP LOCKED,
so two workers never take the same one) and queues their webhook event and email like the
notifier's; after commit they are pushed to the user's devices as `notification.created`, the same
update a new notification gets (agents/reminders.py). A claim that fails to commit is taken again
by the next sweep, so a restart loses nothing and delivers nothing twice.
"""

from __future__ import annotations

import logging

from db import notifications as queries
from streams.app import app
from streams.settings import get_settings

from .reminders import push_notifications

log = logging.getLogger(__name__)

#: How often each worker looks for ended snoozes; finding none costs one probe of a partial index.
SWEEP = 1.0
#: Notifications claimed per transaction; a full batch is followed by another at once.
BATCH = 200


@app.timer(SWEEP, name="resurface_snoozed_notifications")
async def resurface_snoozed() -> None:
    email = get_settings().smtp_url is not None
    while True:
        try:
            async with app.database.transaction() as session:
                delivered = await queries.resurface_due(session, limit=BATCH, email=email)
        except Exception as exc:
            log.warning("could not deliver notifications whose snooze ended (next sweep tries again): %s: %s",
                        type(exc).__name__, exc)
            return
        await push_notifications(delivered)
        if len(delivered) < BATCH:
            return

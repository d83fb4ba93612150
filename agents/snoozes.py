"""Ended snoozes: a sweep delivers a snoozed notification again when its snooze ends, once.

Every worker runs `resurface_snoozed`: it reads when the earliest pending snooze ends (one probe of
a partial index that holds only pending snoozes) and sleeps until then, but never longer than
IDLE_POLL, so a snooze set meanwhile on any worker is seen in time (the API's shortest is a minute).
When a snooze has ended, one transaction claims the notifications whose snooze has ended
(db/notifications.py `resurface_due`: UPDATE ... RETURNING with SKIP LOCKED, so two workers never
take the same one) and queues their webhook event and email like the notifier's; after commit they
are pushed to the user's devices as `notification.created`, the same update a new notification gets
(agents/reminders.py). A claim that fails to commit is taken again by the next sweep, so a restart
loses nothing and delivers nothing twice.
"""

from __future__ import annotations

import asyncio
import logging

from db import notifications as queries
from streams.app import app
from streams.settings import get_settings

from .due import wait_before_next_look
from .reminders import push_notifications
from .webhooks import wake_dispatcher

log = logging.getLogger(__name__)

#: The longest sleep between two reads of when the next snooze ends: far below the API's shortest
#: snooze (a minute), so a snooze set on any worker after the last read still resurfaces on time, and
#: one shortened in the database by hand resurfaces within this long of its end.
IDLE_POLL = 2.0
#: After the database could not be read, the next try.
RETRY_AFTER_ERROR = 1.0
#: Ended snoozes that another worker is claiming right now are its to deliver: look again after this.
RETRY_AFTER_SKIP = 1.0
#: Notifications claimed per transaction; a full batch is followed by another at once.
BATCH = 200


async def resurface_ended() -> float:
    """Deliver the notifications whose snooze has ended; returns how long to sleep before looking again."""
    try:
        async with app.database.autocommit() as session:
            ends_in = await queries.seconds_until_snooze_ends(session)
    except Exception as exc:
        log.warning("could not read when the next snooze ends (trying again in %.0f s): %s: %s",
                    RETRY_AFTER_ERROR, type(exc).__name__, exc)
        return RETRY_AFTER_ERROR
    if ends_in is None or ends_in > 0:
        return wait_before_next_look(ends_in, cap=IDLE_POLL)
    email = get_settings().smtp_url is not None
    while True:
        try:
            async with app.database.transaction() as session:
                delivered = await queries.resurface_due(session, limit=BATCH, email=email)
        except Exception as exc:
            log.warning("could not deliver notifications whose snooze ended (trying again in %.0f s): %s: %s",
                        RETRY_AFTER_ERROR, type(exc).__name__, exc)
            return RETRY_AFTER_ERROR
        if delivered:
            wake_dispatcher()  # their webhook events were queued with them
        await push_notifications(delivered)
        if not delivered:
            return RETRY_AFTER_SKIP  # due, yet another worker holds them: it delivers them
        if len(delivered) < BATCH:
            return 0.0  # the next read names the next snooze end


@app.task
async def resurface_snoozed() -> None:
    while True:
        await asyncio.sleep(await resurface_ended())

"""Batches of events from a Faust stream that sleep while the stream is idle.

Faust's `Stream.take_events(max_, within)` waits `within` seconds for the buffer to fill, over and
over, whether or not anything arrived: an idle agent with `within=0.005` woke 200 times a second,
and the worker's agents together kept an idle worker at ~10 % of a core. `take_batches` is the same
generator (acks, back-pressure and clean-up as Faust does them; see faust/streams.py) except that
with nothing buffered it waits for the first event without a timeout; that event then waits at
most `within` for company, so a batch is never held longer than before.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncGenerator

from faust.types import EventT, StreamT
from mode.utils.futures import notify


def take_batches(stream: StreamT, max_: int, within: float) -> AsyncGenerator[list[EventT], None]:
    """Lists of up to `max_` events: as soon as `max_` are buffered, or `within` seconds after the
    first of them arrived. Events are acknowledged once the consumer of the batch asks for the next."""
    batches = _take_batches(stream, max_, within)
    # Faust closes the buffering generators it knows of when the stream stops (see _tracks_buffer_agen).
    stream._active_agens.add(batches)  # type: ignore[attr-defined]
    return batches


async def _take_batches(stream: Any, max_: int, within: float) -> AsyncGenerator[list[EventT], None]:
    buffer: list[Any] = []
    events: list[EventT] = []
    started = asyncio.Event()  # the buffer is not empty
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future | None = None
    enable_acks = stream.enable_acks
    channel_it = aiter(stream.channel)

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:
                try:
                    await consuming  # the batch being handled now takes nothing more
                finally:
                    consuming = None
            buffer.append(value)
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_batches found current_event is None")
            events.append(event)
            started.set()
            if len(buffer) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # never more than max_ in a batch
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    # This generator acknowledges events itself, once the batch holding them has been handled.
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(channel_it)
    try:
        while not stream.should_stop:
            if not buffer:
                started.clear()
                await stream.wait_for_stopped(started)
                continue
            await stream.wait_for_stopped(full, timeout=within)
            consuming = stream.loop.create_future()
            try:
                yield list(events)
            finally:
                buffer.clear()
                for event in events:
                    await stream.ack(event)
                events.clear()
                notify(consuming)
                full.clear()
                consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)

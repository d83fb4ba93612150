"""Bulk test data for benchmarks: reproducible, realistic tasks for many users, loaded with COPY.

`generate_rows(plan)` is pure (a `random.Random(seed)` and the reference time in the plan), so the same
seed and reference time give the same rows; `load(...)` writes them into `tasks` with asyncpg's binary
COPY. Seeded rows bypass the audit trail and the outbox on purpose: no `task_events` rows, no events.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from random import Random
from typing import IO

PREFIX = "seed-"
HEAVY_USER = "seed-heavy"
#: Every seed user's id matches this LIKE pattern (and nothing an API user is likely to be called).
SEED_PATTERN = "seed-%"

#: The columns the seed writes, in row order. Generated columns (search_vector, priority_rank) fill themselves.
COLUMNS = (
    "id", "user_id", "title", "description", "completed", "completed_at", "due_date", "priority", "tags",
    "recurring_task_id", "version", "created_at", "updated_at", "due_day",
)

HISTORY = timedelta(days=730)  # created_at spreads over the past two years
DUE_SPREAD_MINUTES = 365 * 24 * 60  # due dates fall within a year either side of the reference time
DUE_SHARE, COMPLETED_SHARE, RECURRING_SHARE = 0.70, 0.30, 0.03

# (tag, relative weight): everyday lists are mostly work and home.
TAG_WEIGHTS = (
    ("work", 14), ("home", 10), ("errands", 7), ("finance", 6), ("health", 5), ("family", 5), ("shopping", 5),
    ("urgent", 4), ("projects", 4), ("admin", 4), ("travel", 3), ("school", 3), ("car", 3), ("fitness", 3),
    ("reading", 2), ("garden", 2), ("pets", 2), ("friends", 2), ("learning", 2), ("someday", 2),
)
TAGS = tuple(tag for tag, _ in TAG_WEIGHTS)
_TAG_CUMULATIVE = tuple(itertools.accumulate(weight for _, weight in TAG_WEIGHTS))
# How many tags a task has: 0, 1, 2 or 3 (cumulative shares).
_TAG_COUNT_CUMULATIVE = (0.25, 0.65, 0.90, 1.0)
# LOW 30 %, MEDIUM 50 %, HIGH 20 %.
_PRIORITY_CUMULATIVE = ((0.30, "LOW"), (0.80, "MEDIUM"), (1.0, "HIGH"))
# Sentences in a description: 0 (no description), 1, 2 or 3.
_SENTENCE_COUNT_CUMULATIVE = (0.30, 0.65, 0.90, 1.0)

# Word lists. Singular and plural forms (meeting/meetings, report/reports) exercise stemming; words
# people often misspell (calendar, receipt, separate, necessary, ...) exercise typo-tolerant search.
VERBS = (
    "Prepare", "Review", "Schedule", "Send", "Update", "Finish", "Draft", "Book", "Call about", "Organize",
    "Plan", "Check", "Pay", "Submit", "Fix", "Clean", "Buy", "Renew", "Cancel", "Email", "Write", "Read",
    "Sort out", "Follow up on", "Reschedule", "Confirm", "Print", "File", "Research", "Discuss", "Archive",
    "Summarize",
)
OBJECTS = (
    "quarterly report", "quarterly reports", "annual report", "expense report", "expense reports",
    "status reports", "the weekly meeting", "team meetings", "meeting notes", "the planning meeting",
    "one-on-one meetings", "budget", "budget spreadsheet", "invoice", "invoices", "receipts", "the receipt",
    "calendar", "shared calendar", "dentist appointment", "doctor's appointment", "car maintenance",
    "boiler maintenance", "insurance questionnaire", "tax return", "grocery list", "birthday present",
    "flight tickets", "hotel accommodation", "accommodation for the conference", "project proposal",
    "presentation slides", "performance reviews", "gym membership", "library books", "electricity bill",
    "driving license", "warranty claim", "guarantee for the washing machine", "committee agenda",
    "lawn mower repair", "school forms", "parent-teacher meeting", "restaurant reservation",
    "business cards", "onboarding checklist", "release notes", "customer feedback", "contract renewal",
    "phone plan", "photo album", "recycling", "vet appointment", "pension paperwork", "colleague's farewell card",
)
CONTEXTS = (
    "for finance", "for the team", "before Friday", "with the committee", "for next week", "at home",
    "for the board meeting", "with Sarah", "for the client", "before the deadline", "for the planning meetings",
    "this weekend", "after lunch", "for the quarterly review", "by Wednesday", "before February",
    "with the accountant", "for the government portal", "if necessary", "for the new colleague",
    "before the holidays", "for Monday's meeting", "with the landlord", "on the way home", "for the neighbours",
)
PEOPLE = ("Sarah", "Tom", "the accountant", "Priya", "the landlord", "Marco", "the committee", "our manager",
          "the client", "Grandma", "the plumber", "a colleague")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "the end of the month",
        "February", "the next meeting", "the quarterly review")
SENTENCES = (
    "Remember to bring the {obj} to {day}.",
    "{person} said this is definitely necessary before {day}.",
    "Keep the receipts in a separate folder.",
    "Check the calendar for the next committee meetings.",
    "Needs a second review after the meeting with {person}.",
    "Follow up with {person} about the {obj}.",
    "Budget is about {n} euros, including accommodation.",
    "Discussed in last Wednesday's meeting; see the meeting notes.",
    "Blocked until {person} sends the reports.",
    "Occasionally this slips, so set a reminder.",
    "Compare it with last year's {obj} first.",
    "It would be embarrassing to miss this again.",
    "Ask {person} to recommend someone for the maintenance.",
    "The acknowledgement email has not arrived yet.",
    "Print two copies of the {obj} for {person}.",
    "Make sure the questionnaire is attached.",
    "This is the beginning of a longer project; don't overthink it.",
    "{person} believes the government portal will be down until {day}.",
    "Separate the personal and business expenses.",
    "Could be done together with the {obj}.",
)


class SeedError(ValueError):
    """The seed cannot run as asked (bad sizes, or seed rows already present without --replace)."""


@dataclass(frozen=True)
class SeedPlan:
    """What to seed. `users` counts every user, the heavy user included."""

    now: datetime
    users: int = 1000
    tasks: int = 1_000_000
    heavy_user: int = 50_000
    seed: int = 42

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise SeedError("the reference time needs a timezone (use datetime.now(timezone.utc))")
        if self.users < 1 or self.tasks < 0 or self.heavy_user < 0:
            raise SeedError("--users must be at least 1, --tasks and --heavy-user at least 0")
        if self.heavy_user > self.tasks:
            raise SeedError(f"--heavy-user ({self.heavy_user}) cannot exceed --tasks ({self.tasks})")
        if self.users == 1 and self.heavy_user < self.tasks:
            raise SeedError("with --users 1 only seed-heavy exists: --heavy-user must equal --tasks")

    @property
    def user_ids(self) -> list[str]:
        """`seed-heavy` first, then `seed-user-0000` and on: `users` ids in all."""
        return [HEAVY_USER, *(f"{PREFIX}user-{i:04d}" for i in range(self.users - 1))]


def task_counts(plan: SeedPlan, rng: Random) -> list[int]:
    """Tasks per user, in `plan.user_ids` order: exact for the heavy user, totalling `plan.tasks`.

    The other users get uneven shares (log-normal weights), as real users do, rounded by largest remainder.
    """
    others = plan.users - 1
    rest = plan.tasks - plan.heavy_user
    if others == 0:
        return [plan.heavy_user]
    weights = [rng.lognormvariate(0.0, 0.5) for _ in range(others)]
    scale = rest / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(others), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: rest - sum(counts)]:
        counts[i] += 1
    return [plan.heavy_user, *counts]


def _uuid4(rng: Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _pick(cumulative: tuple[float, ...], r: float) -> int:
    return bisect.bisect_right(cumulative, r)


def _title(rng: Random) -> str:
    title = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    if rng.random() < 0.65:
        title = f"{title} {rng.choice(CONTEXTS)}"
    return title


def _description(rng: Random) -> str | None:
    count = _pick(_SENTENCE_COUNT_CUMULATIVE, rng.random())
    if not count:
        return None
    sentences = []
    for template in rng.sample(SENTENCES, count):
        sentence = template.format(obj=rng.choice(OBJECTS), person=rng.choice(PEOPLE), day=rng.choice(DAYS),
                                   n=rng.randrange(20, 2000, 10))
        sentences.append(sentence[0].upper() + sentence[1:])
    return " ".join(sentences)


def _tags(rng: Random) -> list[str]:
    wanted = _pick(_TAG_COUNT_CUMULATIVE, rng.random())
    chosen: list[str] = []
    total = _TAG_CUMULATIVE[-1]
    while len(chosen) < wanted:
        tag = TAGS[bisect.bisect_right(_TAG_CUMULATIVE, rng.random() * total)]
        if tag not in chosen:
            chosen.append(tag)
    return chosen


def generate_rows(plan: SeedPlan) -> Iterator[tuple]:
    """The seed's rows as tuples in `COLUMNS` order, oldest first (the order a real table fills in).

    Users' tasks are interleaved, so one user's rows spread over the whole table as they would after two
    years of use, rather than sitting together (which would flatter every per-user query).
    """
    rng = Random(plan.seed)
    now = plan.now.astimezone(timezone.utc)
    user_ids = plan.user_ids
    owners = [index for index, count in enumerate(task_counts(plan, rng)) for _ in range(count)]
    rng.shuffle(owners)

    # created_at in [now - 2 years, now - 1 hour): stratified, so rows come out in time order.
    start = now - HISTORY
    span_us = (HISTORY - timedelta(hours=1)) // timedelta(microseconds=1)
    due_base = now.replace(second=0, microsecond=0)
    minute_us = 60_000_000
    total = len(owners)
    for i, owner in enumerate(owners):
        created_at = start + timedelta(microseconds=(i + rng.random()) * span_us // total)
        age_us = (now - created_at) // timedelta(microseconds=1)  # at least an hour
        title = _title(rng)
        description = _description(rng)
        r = rng.random()
        priority = next(name for bound, name in _PRIORITY_CUMULATIVE if r < bound)
        tags = _tags(rng)
        due_date = None
        if rng.random() < DUE_SHARE:
            due_date = due_base + timedelta(minutes=rng.randint(-DUE_SPREAD_MINUTES, DUE_SPREAD_MINUTES))
        completed = rng.random() < COMPLETED_SHARE
        completed_at = None
        if completed:
            # At least a minute after creation, never after the reference time.
            completed_at = created_at + timedelta(
                microseconds=minute_us + int(rng.random() * (age_us - minute_us)))
            updated_at = completed_at
        elif rng.random() < 0.5:
            updated_at = created_at + timedelta(microseconds=int(rng.random() * age_us))
        else:
            updated_at = created_at
        recurring_task_id = _uuid4(rng) if rng.random() < RECURRING_SHARE else None
        yield (
            _uuid4(rng), user_ids[owner], title, description, completed, completed_at, due_date, priority, tags,
            recurring_task_id, 1, created_at, updated_at, None,  # seeded tasks are timed, none all-day
        )


class Progress:
    """A plain-text progress line on stderr: rows, percentage, rows/s and ETA (no extra dependency)."""

    def __init__(self, total: int, *, stream: IO[str] | None = None, label: str = "seeding tasks") -> None:
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.done = 0
        self._shown = 0.0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else float("inf")
        percent = 100 * self.done / self.total if self.total else 100.0
        eta_text = f"ETA {eta:,.0f} s" if eta != float("inf") else "ETA -"
        return f"{self.label}: {self.done:,}/{self.total:,} ({percent:.0f}%) {rate:,.0f} rows/s {eta_text}"

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        # A terminal gets a line rewritten in place; a log file a line every 10 s.
        if self.interactive and now - self._shown >= 0.2:
            self.stream.write("\r" + self.line().ljust(78))
        elif not self.interactive and now - self._shown >= 10:
            self.stream.write(self.line() + "\n")
        else:
            return
        self.stream.flush()
        self._shown = now

    def finish(self) -> None:
        self.stream.write(("\r" if self.interactive else "") + self.line().ljust(78) + "\n")
        self.stream.flush()


@dataclass(frozen=True)
class SeedReport:
    rows: int
    users: int
    deleted: int
    copy_seconds: float
    analyze_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds else 0.0


def writable_columns() -> tuple[str, ...]:
    """The model's columns the seed must write (generated columns left out); checked against COLUMNS."""
    from db.models import Task

    return tuple(c.name for c in Task.__table__.columns if c.computed is None)


def check_columns() -> None:
    """Refuse to run against a model whose required columns the seed does not know about."""
    from db.models import Task

    missing = [
        c.name for c in Task.__table__.columns
        if c.computed is None and c.name not in COLUMNS and not c.nullable and c.server_default is None
    ]
    unknown = [name for name in COLUMNS if name not in Task.__table__.columns]
    if missing or unknown:
        raise SeedError(f"streams/cli/seed.py is out of date with db/models.py: missing {missing}, unknown {unknown}")


def _batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


async def load(
    database_url: str,
    plan: SeedPlan,
    *,
    replace: bool = False,
    batch_size: int = 20_000,
    progress: IO[str] | None = None,
) -> SeedReport:
    """COPY the plan's rows into `tasks` in one transaction, then VACUUM (ANALYZE) the table.

    Raises SeedError when the plan's users already have tasks, unless `replace`, which first deletes the
    tasks of every `seed-*` user (their audit history, if any, stays: it is append-only).
    """
    from db.engine import Database

    check_columns()
    database = Database(database_url, pool_size=1)
    try:
        async with database.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            existing = await raw.fetchval("SELECT count(*) FROM tasks WHERE user_id = ANY($1::text[])", plan.user_ids)
            if existing and not replace:
                raise SeedError(
                    f"the seed users already have {existing:,} tasks in this database; run again with --replace "
                    f"to delete the tasks of every '{SEED_PATTERN}' user first"
                )
            bar = Progress(plan.tasks, stream=progress)
            started = time.monotonic()
            async with raw.transaction():
                # A flushed commit lets the VACUUM below set hint bits and the visibility map; after an
                # asynchronous commit (synchronous_commit=off, as the embedded server runs) it cannot yet.
                await raw.execute("SET LOCAL synchronous_commit = on")
                deleted = 0
                if replace:
                    status = await raw.execute("DELETE FROM tasks WHERE user_id LIKE $1", SEED_PATTERN)
                    deleted = int(status.split()[-1])
                rows = generate_rows(plan)
                batches = _batches(rows, batch_size)
                # Build the next batch in a thread while PostgreSQL ingests this one: two cores, two jobs.
                pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                try:
                    while (batch := await pending) is not None:
                        pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                        await raw.copy_records_to_table("tasks", records=batch, columns=COLUMNS)
                        bar.advance(len(batch))
                finally:
                    # A failed COPY leaves the builder thread running: let it finish before unwinding.
                    await asyncio.gather(pending, return_exceptions=True)
            copy_seconds = time.monotonic() - started
            bar.finish()
            started = time.monotonic()
            # VACUUM, not only ANALYZE: sets the visibility map and merges GIN pending lists, so the table
            # is in the state autovacuum would soon leave it in, rather than mid-way through that work.
            await raw.execute("VACUUM (ANALYZE) tasks")
            analyze_seconds = time.monotonic() - started
    finally:
        await database.dispose()
    return SeedReport(plan.tasks, plan.users, deleted, copy_seconds, analyze_seconds)


__all__ = [
    "COLUMNS", "HEAVY_USER", "SEED_PATTERN", "TAGS", "Progress", "SeedError", "SeedPlan", "SeedReport",
    "generate_rows", "load", "task_counts", "writable_columns",
]

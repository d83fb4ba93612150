"""Token buckets in PostgreSQL: refill and take in one atomic statement, so every worker shares them."""

from __future__ import annotations

from sqlalchemy import text

# The bucket as it stands at this statement's time: what it held plus what flowed in since, capped at
# the burst. Every SET expression below sees the row as it was before the update, so this is the same
# value wherever it appears. PostgreSQL's clock, not the workers': replicas never disagree on time.
_REFILLED = (
    "least(CAST(:burst AS double precision), b.tokens + CAST(:rate AS double precision)"
    " * greatest(0, extract(epoch FROM statement_timestamp() - b.updated_at)::double precision))"
)

# A request costs one token. A new key starts full and pays for this request at once. The row lock the
# UPSERT takes serialises concurrent requests for one key, on any worker: none can spend a token twice.
_TAKE = text(f"""
    INSERT INTO rate_limits AS b (key, tokens, allowed, updated_at)
    VALUES (:key, CAST(:burst AS double precision) - 1, true, statement_timestamp())
    ON CONFLICT (key) DO UPDATE SET
        allowed = {_REFILLED} >= 1,
        tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
        updated_at = statement_timestamp()
    RETURNING tokens, allowed
""")

_FORGET_IDLE = text(
    "DELETE FROM rate_limits WHERE updated_at < statement_timestamp() - make_interval(secs => :idle_seconds)"
)


async def take(session, key: str, *, rate: float, burst: int) -> tuple[float, bool]:
    """Refill `key`'s bucket and take one token if there is one: (tokens left, whether it was taken)."""
    row = (await session.execute(_TAKE, {"key": key, "rate": rate, "burst": burst})).one()
    return float(row.tokens), bool(row.allowed)


async def forget_idle(session, *, idle_seconds: float) -> int:
    """Delete buckets untouched for `idle_seconds` (full again by then: the same as no row); returns how many."""
    result = await session.execute(_FORGET_IDLE, {"idle_seconds": idle_seconds})
    return result.rowcount or 0

"""The benchmark seed: reproducible for a seed, with the promised shape (shares, tags, counts, UTC times)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from streams.cli.seed import COLUMNS, HEAVY_USER, TAGS, SeedError, SeedPlan, generate_rows, writable_columns

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
PLAN = SeedPlan(now=NOW, users=21, tasks=20_000, heavy_user=3_000, seed=42)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [dict(zip(COLUMNS, row)) for row in generate_rows(PLAN)]


def share(rows: list[dict], predicate) -> float:
    return sum(1 for row in rows if predicate(row)) / len(rows)


def test_the_same_seed_and_time_give_the_same_rows_and_another_seed_does_not():
    small = SeedPlan(now=NOW, users=5, tasks=500, heavy_user=100, seed=7)
    assert list(generate_rows(small)) == list(generate_rows(small))
    other = SeedPlan(now=NOW, users=5, tasks=500, heavy_user=100, seed=8)
    assert list(generate_rows(small)) != list(generate_rows(other))


def test_totals_and_the_heavy_users_count_are_exact(rows):
    per_user = Counter(row["user_id"] for row in rows)
    assert len(rows) == PLAN.tasks
    assert per_user[HEAVY_USER] == PLAN.heavy_user
    assert set(per_user) == {HEAVY_USER, *(f"seed-user-{i:04d}" for i in range(PLAN.users - 1))}
    assert len({row["id"] for row in rows}) == PLAN.tasks


def test_about_70_percent_have_a_due_date_within_a_year_of_now(rows):
    assert share(rows, lambda r: r["due_date"] is not None) == pytest.approx(0.70, abs=0.02)
    dues = [r["due_date"] for r in rows if r["due_date"] is not None]
    assert all(abs(due - NOW) <= timedelta(days=366) for due in dues)
    assert any(due < NOW for due in dues) and any(due > NOW for due in dues)


def test_about_30_percent_are_completed_after_they_were_created(rows):
    assert share(rows, lambda r: r["completed"]) == pytest.approx(0.30, abs=0.02)
    for row in rows:
        assert (row["completed_at"] is not None) == row["completed"]
        if row["completed"]:
            assert row["created_at"] < row["completed_at"] <= NOW


def test_overdue_open_tasks_exist(rows):
    assert any(r["due_date"] is not None and r["due_date"] < NOW and not r["completed"] for r in rows)


def test_tags_are_zero_to_three_distinct_of_the_twenty(rows):
    assert len(TAGS) == 20
    counts = Counter(len(row["tags"]) for row in rows)
    assert set(counts) == {0, 1, 2, 3}
    assert all(set(row["tags"]) <= set(TAGS) and len(set(row["tags"])) == len(row["tags"]) for row in rows)
    assert {tag for row in rows for tag in row["tags"]} == set(TAGS)


def test_every_priority_occurs_and_about_3_percent_are_recurring(rows):
    assert {row["priority"] for row in rows} == {"LOW", "MEDIUM", "HIGH"}
    assert share(rows, lambda r: r["recurring_task_id"] is not None) == pytest.approx(0.03, abs=0.01)
    assert {row["version"] for row in rows} == {1}


def test_times_are_utc_created_in_the_past_two_years_and_updated_no_earlier(rows):
    for row in rows:
        for column in ("created_at", "updated_at", "completed_at", "due_date"):
            if row[column] is not None:
                assert row[column].tzinfo is not None and row[column].utcoffset() == timedelta(0)
        assert NOW - timedelta(days=730) <= row["created_at"] < NOW
        assert row["created_at"] <= row["updated_at"] <= NOW


def test_titles_and_descriptions_are_realistic_text_that_exercises_search(rows):
    titles = [row["title"] for row in rows]
    assert all(1 <= len(title) <= 255 for title in titles)
    assert len(set(titles)) > 1000
    text = " ".join(titles + [row["description"] or "" for row in rows]).lower()
    for word in ("meeting", "meetings", "report", "reports", "quarterly report", "calendar", "receipt", "separate"):
        assert word in text
    assert share(rows, lambda r: r["description"] is None) == pytest.approx(0.30, abs=0.03)


def test_the_seed_writes_every_column_of_the_model_except_generated_ones():
    assert set(writable_columns()) == set(COLUMNS)


@pytest.mark.parametrize("kwargs,message", [
    ({"heavy_user": 11, "tasks": 10}, "cannot exceed"),
    ({"users": 0}, "at least 1"),
    ({"users": 1, "tasks": 10, "heavy_user": 5}, "only seed-heavy"),
    ({"now": datetime(2026, 1, 1)}, "timezone"),
])
def test_an_impossible_plan_is_refused_with_a_reason(kwargs, message):
    with pytest.raises(SeedError, match=message):
        SeedPlan(**{"now": NOW, **kwargs})

"""How long a dispatcher or sweep sleeps when nothing woke it."""

from agents.due import wait_before_next_look


def test_it_sleeps_until_the_next_due_time():
    assert wait_before_next_look(1.25, cap=5.0) == 1.25


def test_it_looks_again_at_once_when_something_is_already_due():
    assert wait_before_next_look(-3.0, cap=5.0) == 0.0
    assert wait_before_next_look(0.0, cap=5.0) == 0.0


def test_it_never_sleeps_past_the_cap():
    assert wait_before_next_look(3600.0, cap=5.0) == 5.0


def test_with_nothing_pending_it_looks_again_after_the_cap():
    assert wait_before_next_look(None, cap=5.0) == 5.0

"""Tests for the task filter language's parser: grammar, errors, limits and injection-shaped input."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from streams.rules.filterlang import (
    MAX_DEPTH,
    MAX_LENGTH,
    AbsoluteDay,
    AbsoluteInstant,
    And,
    DateTerm,
    DoneTerm,
    FilterSyntaxError,
    Node,
    NoDueDate,
    Not,
    Or,
    Overdue,
    PeriodEnd,
    Priority,
    PriorityTerm,
    RecurringTerm,
    RelativeDay,
    RelativeInstant,
    TagTerm,
    TextTerm,
    parse,
)


def syntax_error(text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    return caught.value


# --- grammar ---------------------------------------------------------------


def bare(word: str) -> TextTerm:
    return TextTerm(word, quoted=False)


def test_documented_examples_parse_into_the_intended_trees() -> None:
    assert parse("priority:high & #work & due<7d & !done") == And(
        (
            PriorityTerm(":", Priority.HIGH),
            TagTerm("work"),
            DateTerm("due", "<", RelativeInstant(7)),
            Not(DoneTerm(True)),
        )
    )
    assert parse("(#home | #errands) & overdue") == And((Or((TagTerm("home"), TagTerm("errands"))), Overdue()))
    assert parse('"quarterly report" & created>2026-01-01') == And(
        (TextTerm("quarterly report", quoted=True), DateTerm("created", ">", AbsoluteDay(date(2026, 1, 1))))
    )


def test_and_binds_tighter_than_or() -> None:
    assert parse("a | b & c") == Or((bare("a"), And((bare("b"), bare("c")))))
    assert parse("a & b | c") == Or((And((bare("a"), bare("b"))), bare("c")))


def test_not_binds_tighter_than_and() -> None:
    assert parse("!done & #x") == And((Not(DoneTerm(True)), TagTerm("x")))
    assert parse("!(done & #x)") == Not(And((DoneTerm(True), TagTerm("x"))))


def test_parentheses_override_precedence_and_nest() -> None:
    assert parse("(a | b) & c") == And((Or((bare("a"), bare("b"))), bare("c")))
    assert parse("((a | (b & !c)))") == Or((bare("a"), And((bare("b"), Not(bare("c"))))))
    assert parse("!!done") == Not(Not(DoneTerm(True)))


def test_terms_side_by_side_are_an_implicit_and_with_the_precedence_of_and() -> None:
    assert parse("a b | c") == Or((And((bare("a"), bare("b"))), bare("c")))
    assert parse("#a !done (b | c)") == And((TagTerm("a"), Not(DoneTerm(True)), Or((bare("b"), bare("c")))))
    assert parse("a b") == parse("a & b")


def test_whitespace_around_operators_is_optional() -> None:
    assert parse("(#a|#b)&!done") == parse(" ( #a | #b ) & ! done ")


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("priority:high", PriorityTerm(":", Priority.HIGH)),
        ("PRIORITY:Medium", PriorityTerm(":", Priority.MEDIUM)),
        ("priority>medium", PriorityTerm(">", Priority.MEDIUM)),
        ("priority<=low", PriorityTerm("<=", Priority.LOW)),
        ('priority:"high"', PriorityTerm(":", Priority.HIGH)),
        ("#Work", TagTerm("work")),
        ("#a-b_c.d/e9", TagTerm("a-b_c.d/e9")),
        ("#café", TagTerm("café")),
        ("tag:Home", TagTerm("home")),
        ("due<7d", DateTerm("due", "<", RelativeInstant(7))),
        ("due<=-3d", DateTerm("due", "<=", RelativeInstant(-3))),
        ("due>+2w", DateTerm("due", ">", RelativeInstant(14))),
        ("due>=today", DateTerm("due", ">=", RelativeDay(0))),
        ("due:Tomorrow", DateTerm("due", ":", RelativeDay(1))),
        ("due:yesterday", DateTerm("due", ":", RelativeDay(-1))),
        ("due<eow", DateTerm("due", "<", PeriodEnd("week"))),
        ("due:EOM", DateTerm("due", ":", PeriodEnd("month"))),
        ("due:none", NoDueDate()),
        ("Due:None", NoDueDate()),
        ("created<2026-01-01", DateTerm("created", "<", AbsoluteDay(date(2026, 1, 1)))),
        (
            "created:2026-01-01T10:30:00+05:00",
            DateTerm("created", ":", AbsoluteInstant(datetime(2026, 1, 1, 5, 30, tzinfo=UTC))),
        ),
        (
            "created>=2026-01-01t10:30z",
            DateTerm("created", ">=", AbsoluteInstant(datetime(2026, 1, 1, 10, 30, tzinfo=UTC))),
        ),
        ("done", DoneTerm(True)),
        ("DONE", DoneTerm(True)),
        ("done:true", DoneTerm(True)),
        ("done:False", DoneTerm(False)),
        ("recurring", RecurringTerm(True)),
        ("recurring:true", RecurringTerm(True)),
        ("recurring:false", RecurringTerm(False)),
        ("overdue", Overdue()),
        ("text:report", TextTerm("report", quoted=False)),
        ('text:"annual report"', TextTerm("annual report", quoted=True)),
        ('"quarterly report"', TextTerm("quarterly report", quoted=True)),
        (r'"say \"hi\" \\ bye"', TextTerm('say "hi" \\ bye', quoted=True)),
        ("report", TextTerm("report", quoted=False)),
        ("wow!", TextTerm("wow!", quoted=False)),
        ("O'Reilly", TextTerm("O'Reilly", quoted=False)),
    ],
)
def test_every_term_parses_to_its_node(filter_text: str, expected: Node) -> None:
    assert parse(filter_text) == expected


def test_a_quote_not_right_after_a_field_operator_starts_a_new_phrase() -> None:
    assert parse('foo"bar"') == And((bare("foo"), TextTerm("bar", quoted=True)))


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "position", "message"),
    [
        ("", 0, "expected a term but found end of input"),
        ("   ", 3, "expected a term but found end of input"),
        ("#work &", 7, "expected a term after '&' but found end of input"),
        ("#work & | done", 8, "expected a term after '&' but found '|'"),
        ("| done", 0, "expected a term but found '|'"),
        ("done |", 6, "expected a term after '|' but found end of input"),
        ("done & !", 8, "expected a term after '!' but found end of input"),
        ("(#a | #b", 8, "expected ')' to close '(' at position 0 but found end of input"),
        ("((#a) | #b", 10, "expected ')' to close '(' at position 0 but found end of input"),
        ("#a) & done", 2, "unexpected ')' without a matching '('"),
        ("done & ()", 8, "expected a term after '(' but found ')'"),
        ("done & colour:red", 7, "but found unknown field 'colour'"),
        ("overdue:true", 0, "but found unknown field 'overdue'"),
        (":x", 0, "expected a field name before ':'"),
        ("priority:urgent", 9, "expected low, medium or high after 'priority:' but found 'urgent'"),
        ("priority: high", 9, "expected low, medium or high right after 'priority:'"),
        ("priority=high", 8, "expected ':' or a comparison (<, <=, >, >=) after 'priority'"),
        ("due < 7d", 3, "expected ':' or a comparison (<, <=, >, >=) after 'due'"),
        ("due<soon", 4, "expected a date (YYYY-MM-DD, an ISO datetime with offset"),
        ("due>=2026-02-30", 5, "'2026-02-30' is not a valid calendar date"),
        ("due<2026-01-01T10:00", 20, "expected a UTC offset (such as +01:00 or Z) after the time"),
        ("due<2026-01-01T25:00Z", 4, "is not a valid datetime"),
        ("due<1850-01-01", 4, "expected a year between 1900 and 9998"),
        ("due<99999d", 4, "relative date is more than 36600 days away"),
        ("due<\u0663d", 4, "expected a date"),
        ("created:none", 8, "expected a date"),
        ("tag<x", 3, "'tag' only supports ':' but found '<'"),
        ("done:yes", 5, "expected true or false after 'done:' but found 'yes'"),
        ("#", 1, "expected a tag name right after '#'"),
        ("#wo$rk", 3, "expected only letters, digits, '-', '_', '.' or '/' in a tag name but found '$'"),
        ('done & "unterminated', 7, "unterminated quoted phrase starting"),
        ('text:""', 5, "expected text inside the quotes"),
        ('"  "', 0, "expected text inside the quotes"),
        ("text:", 5, "expected a word or a quoted phrase right after 'text:'"),
        ("a\x00b", 1, "unexpected control character '\\x00'"),
    ],
)
def test_invalid_filter_reports_what_was_expected_at_the_offending_position(
    filter_text: str, position: int, message: str
) -> None:
    error = syntax_error(filter_text)
    assert error.position == position
    assert message in error.message


def test_syntax_error_text_ends_with_the_position() -> None:
    assert str(syntax_error("#work &")) == "expected a term after '&' but found end of input at position 7"


# --- limits ----------------------------------------------------------------


def test_filter_of_the_maximum_length_is_accepted_and_one_longer_is_refused_at_the_limit() -> None:
    assert parse("a" * MAX_LENGTH) == bare("a" * MAX_LENGTH)
    error = syntax_error("a" * (MAX_LENGTH + 1))
    assert error.position == MAX_LENGTH
    assert f"at most {MAX_LENGTH} characters" in error.message


def test_nesting_up_to_the_depth_limit_is_accepted_and_one_deeper_is_refused_at_the_extra_level() -> None:
    assert parse("(" * MAX_DEPTH + "done" + ")" * MAX_DEPTH) == DoneTerm(True)
    assert syntax_error("(" * (MAX_DEPTH + 1) + "done" + ")" * (MAX_DEPTH + 1)).position == MAX_DEPTH
    assert isinstance(parse("!" * MAX_DEPTH + "done"), Not)
    error = syntax_error("!(" * (MAX_DEPTH // 2) + "!done" + ")" * (MAX_DEPTH // 2))
    assert error.position == MAX_DEPTH
    assert f"at most {MAX_DEPTH} nested" in error.message


# --- injection-shaped input ----------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "position"),
    [("#x'); drop table tasks;--", 2), ("#x';drop", 2), ("due<2026-01-01';drop", 4), ("priority:high'--", 9)],
)
def test_injection_shaped_field_values_are_syntax_errors_before_any_sql_exists(filter_text: str, position: int) -> None:
    assert syntax_error(filter_text).position == position


def test_the_parser_is_a_pure_rule_that_imports_no_sql_library() -> None:
    # A fresh interpreter: this test run has SQLAlchemy loaded already.
    code = "import sys, streams.rules.filterlang; print(sorted(m for m in sys.modules if m.startswith('sqlalchemy')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

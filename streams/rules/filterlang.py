"""The task filter language: parse filter text to an AST (pure; db/filters.py compiles it to SQL)."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NoReturn, TypeAlias, cast

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_RELATIVE_DAYS",
    "AbsoluteDay",
    "AbsoluteInstant",
    "And",
    "Comparison",
    "DateField",
    "DateRef",
    "DateTerm",
    "DoneTerm",
    "FilterSyntaxError",
    "NoDueDate",
    "Node",
    "Not",
    "Or",
    "Overdue",
    "PeriodEnd",
    "Priority",
    "PriorityTerm",
    "RecurringTerm",
    "RelativeDay",
    "RelativeInstant",
    "TagTerm",
    "TextTerm",
    "parse",
]

#: Longest accepted filter text, in characters.
MAX_LENGTH = 500
#: Deepest accepted nesting of parentheses and ``!`` combined.
MAX_DEPTH = 32
#: Largest relative offset (``Nd``/``Nw``), in days: about a century.
MAX_RELATIVE_DAYS = 36_600
# Kept well inside datetime's range so that "the next day" of any accepted
# date, and its conversion to UTC, can never overflow.
_MIN_YEAR, _MAX_YEAR = 1900, 9998


class FilterSyntaxError(ValueError):
    """The filter text is not valid; ``position`` is the 0-based index of the offending character."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} at position {self.position}"


# --- AST -------------------------------------------------------------------

Comparison: TypeAlias = Literal[":", "<", "<=", ">", ">="]
DateField: TypeAlias = Literal["due", "created"]


class Priority(enum.IntEnum):
    """Task priority; the integer order is the order ``priority>medium`` uses."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


@dataclass(frozen=True, slots=True)
class AbsoluteDay:
    """A calendar day in the user's zone, e.g. ``2026-01-01``."""

    day: date


@dataclass(frozen=True, slots=True)
class AbsoluteInstant:
    """An exact instant given as an ISO datetime with an offset."""

    at: datetime


@dataclass(frozen=True, slots=True)
class RelativeDay:
    """The local day ``days`` away from today: ``today`` (0), ``tomorrow`` (1), ``yesterday`` (-1)."""

    days: int


@dataclass(frozen=True, slots=True)
class RelativeInstant:
    """``now`` plus ``days`` calendar days at the same local wall-clock time (``Nd``, ``Nw``)."""

    days: int


@dataclass(frozen=True, slots=True)
class PeriodEnd:
    """The end of the current local week (``eow``) or month (``eom``)."""

    period: Literal["week", "month"]


DateRef: TypeAlias = AbsoluteDay | AbsoluteInstant | RelativeDay | RelativeInstant | PeriodEnd


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class PriorityTerm:
    op: Comparison
    level: Priority


@dataclass(frozen=True, slots=True)
class TagTerm:
    tag: str


@dataclass(frozen=True, slots=True)
class DateTerm:
    field: DateField
    op: Comparison
    value: DateRef


@dataclass(frozen=True, slots=True)
class NoDueDate:
    pass


@dataclass(frozen=True, slots=True)
class DoneTerm:
    done: bool


@dataclass(frozen=True, slots=True)
class RecurringTerm:
    recurring: bool


@dataclass(frozen=True, slots=True)
class Overdue:
    pass


@dataclass(frozen=True, slots=True)
class TextTerm:
    text: str
    quoted: bool


Node: TypeAlias = (
    And | Or | Not | PriorityTerm | TagTerm | DateTerm | NoDueDate | DoneTerm | RecurringTerm | Overdue | TextTerm
)


# --- Lexer -----------------------------------------------------------------


class _Kind(enum.Enum):
    AND = "&"
    OR = "|"
    NOT = "!"
    LPAREN = "("
    RPAREN = ")"
    WORD = "word"
    PHRASE = "phrase"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    pos: int
    text: str
    # The unquoted content of a phrase, or of a word's quoted value (text:"a b").
    quoted: str | None = None
    quoted_pos: int = -1


_PUNCTUATION = {"&": _Kind.AND, "|": _Kind.OR, "!": _Kind.NOT, "(": _Kind.LPAREN, ")": _Kind.RPAREN}
_WORD_BREAK = frozenset('&|()"')
_OPERATOR_CHARS = ":<>"
# A quoted value belongs to the word only when it directly follows "field<op>"
# (text:"a b"); anywhere else a quote starts a new phrase term.
_FIELD_PREFIX = re.compile(r"[A-Za-z]+(?::|<=?|>=?)")


def _is_control(ch: str) -> bool:
    # NUL and friends are rejected up front: Postgres refuses NUL in text
    # parameters, and invisible characters make error positions misleading.
    return not ch.isspace() and unicodedata.category(ch) == "Cc"


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(chars), i + 1
        elif _is_control(ch):
            raise FilterSyntaxError(f"unexpected control character {ch!r}", i)
        else:
            chars.append(ch)
            i += 1
    raise FilterSyntaxError("unterminated quoted phrase starting", start)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[ch], i, ch))
            i += 1
        elif ch == '"':
            content, end = _read_quoted(text, i)
            tokens.append(_Token(_Kind.PHRASE, i, text[i:end], content, i))
            i = end
        elif _is_control(ch):
            raise FilterSyntaxError(f"unexpected control character {ch!r}", i)
        else:
            start = i
            # '!' only negates at the start of a term, so "wow!" stays one word.
            while i < len(text) and not text[i].isspace() and text[i] not in _WORD_BREAK and not _is_control(text[i]):
                i += 1
            word = text[start:i]
            if i < len(text) and text[i] == '"' and _FIELD_PREFIX.fullmatch(word):
                content, end = _read_quoted(text, i)
                tokens.append(_Token(_Kind.WORD, start, word, content, i))
                i = end
            else:
                tokens.append(_Token(_Kind.WORD, start, word))
    tokens.append(_Token(_Kind.EOF, len(text), ""))
    return tokens


def _describe(token: _Token) -> str:
    return "end of input" if token.kind is _Kind.EOF else _quote(token.text)


def _quote(text: str) -> str:
    # Messages are shown back to the user; a 500-character echo helps nobody.
    return repr(text if len(text) <= 30 else text[:27] + "...")


# --- Parser ----------------------------------------------------------------

_FIELDS = ("created", "done", "due", "priority", "recurring", "tag", "text")
_FIELD_LIST = ", ".join(_FIELDS[:-1]) + " or " + _FIELDS[-1]
_TAG_CHAR = re.compile(r"[\w\-./]")
# ASCII-only digits: \d would also accept other scripts' digits, which int() silently converts.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ISO_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
_RELATIVE = re.compile(r"([+-]?\d{1,7})([dDwW])", re.ASCII)
_NAMED_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_BOOLEANS = {"true": True, "false": False}
_DATE_FORMS = "a date (YYYY-MM-DD, an ISO datetime with offset, today, tomorrow, yesterday, Nd, Nw, eow or eom)"


def parse(text: str) -> Node:
    r"""Parse filter text into an AST, or raise :class:`FilterSyntaxError`.

    Grammar (EBNF; keywords, field names and priority levels are case-insensitive)::

        filter     = or_expr , EOF ;
        or_expr    = and_expr , { "|" , and_expr } ;
        and_expr   = unary , { [ "&" ] , unary } ;   (* juxtaposition is an implicit "&" *)
        unary      = "!" , unary | primary ;
        primary    = "(" , or_expr , ")" | term ;
        term       = phrase                          (* "quoted phrase": full text *)
                   | "#" , tag
                   | "done" | "recurring" | "overdue"
                   | "priority" , cmp , level
                   | "tag:" , tag
                   | ( "due" | "created" ) , cmp , date
                   | "due:none"
                   | ( "done:" | "recurring:" ) , ( "true" | "false" )
                   | "text:" , ( word | phrase )
                   | word ;                          (* any other bare word: full text *)
        cmp        = ":" | "<" | "<=" | ">" | ">=" ;
        level      = "low" | "medium" | "high" ;
        tag        = tag_char , { tag_char } ;       (* letters, digits, - _ . / ; lower-cased *)
        date       = yyyy-mm-dd | iso_datetime_with_offset
                   | "today" | "tomorrow" | "yesterday" | "eow" | "eom"
                   | [ "+" | "-" ] , digits , ( "d" | "w" ) ;
        phrase     = '"' , { char | '\\"' | '\\\\' } , '"' ;

    Precedence is ``!`` > ``&`` (explicit or implicit) > ``|``. A field value may be
    quoted when it directly follows its operator (``text:"a b"``). Input is limited
    to :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` nested ``(`` or ``!``.
    """
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"expected at most {MAX_LENGTH} characters but the filter goes on", MAX_LENGTH)
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        node = self._or_expr(after=None)
        token = self._peek()
        # and_expr swallows every other kind of token, so only a stray ')' can end the filter early.
        if token.kind is not _Kind.EOF:
            raise FilterSyntaxError("unexpected ')' without a matching '('", token.pos)
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _Kind.EOF:
            self._index += 1
        return token

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterSyntaxError(f"expected at most {MAX_DEPTH} nested '(' or '!' but found another", token.pos)

    def _or_expr(self, after: _Token | None) -> Node:
        operands = [self._and_expr(after)]
        while self._peek().kind is _Kind.OR:
            operands.append(self._and_expr(self._advance()))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and_expr(self, after: _Token | None) -> Node:
        operands = [self._unary(after)]
        while True:
            kind = self._peek().kind
            if kind is _Kind.AND:
                operands.append(self._unary(self._advance()))
            elif kind in (_Kind.NOT, _Kind.LPAREN, _Kind.WORD, _Kind.PHRASE):
                operands.append(self._unary(None))
            else:
                break
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self, after: _Token | None) -> Node:
        token = self._peek()
        if token.kind is not _Kind.NOT:
            return self._primary(after)
        self._advance()
        self._enter(token)
        operand = self._unary(token)
        self._depth -= 1
        return Not(operand)

    def _primary(self, after: _Token | None) -> Node:
        token = self._advance()
        if token.kind is _Kind.LPAREN:
            self._enter(token)
            inner = self._or_expr(token)
            closing = self._peek()
            if closing.kind is not _Kind.RPAREN:
                raise FilterSyntaxError(
                    f"expected ')' to close '(' at position {token.pos} but found {_describe(closing)}",
                    closing.pos,
                )
            self._advance()
            self._depth -= 1
            return inner
        if token.kind is _Kind.PHRASE:
            assert token.quoted is not None
            return _phrase(token.quoted, token.pos)
        if token.kind is _Kind.WORD:
            return _term(token)
        where = f" after {_describe(after)}" if after is not None else ""
        raise FilterSyntaxError(f"expected a term{where} but found {_describe(token)}", token.pos)


def _phrase(content: str, pos: int) -> TextTerm:
    if not content.strip():
        raise FilterSyntaxError("expected text inside the quotes", pos)
    return TextTerm(content, quoted=True)


def _term(token: _Token) -> Node:
    word, start = token.text, token.pos
    if word.startswith("#"):
        return TagTerm(_tag(word[1:], start + 1, "'#'"))
    split = next((i for i, ch in enumerate(word) if ch in _OPERATOR_CHARS), None)
    if split is None:
        return _bare_word(word, start)
    field = word[:split].lower()
    if not field:
        raise FilterSyntaxError(f"expected a field name before {word[0]!r}", start)
    if field not in _FIELDS:
        raise FilterSyntaxError(
            f"expected a field ({_FIELD_LIST}) or a quoted phrase but found unknown field {_quote(word[:split])}", start
        )
    op = cast(Comparison, word[split : split + 2] if word[split : split + 2] in ("<=", ">=") else word[split])
    if token.quoted is not None:
        value, value_pos, quoted = token.quoted, token.quoted_pos, True
    else:
        value, value_pos, quoted = word[split + len(op) :], start + split + len(op), False
    context = f"'{field}{op}'"

    if field in ("due", "created"):
        if field == "due" and op == ":" and value.lower() == "none":
            return NoDueDate()
        return DateTerm(cast(DateField, field), op, _date_ref(value, value_pos, context))
    if field == "priority":
        return PriorityTerm(op, _priority(value, value_pos, context))
    if op != ":":
        raise FilterSyntaxError(f"'{field}' only supports ':' but found {op!r}", start + split)
    if field == "tag":
        return TagTerm(_tag(value, value_pos, context))
    if field == "text":
        if quoted:
            return _phrase(value, value_pos)
        if not value:
            _expected("a word or a quoted phrase", context, value, value_pos)
        return TextTerm(value, quoted=False)
    flag = _BOOLEANS.get(value.lower())
    if flag is None:
        _expected("true or false", context, value, value_pos)
    return DoneTerm(flag) if field == "done" else RecurringTerm(flag)


def _bare_word(word: str, start: int) -> Node:
    lowered = word.lower()
    if lowered == "done":
        return DoneTerm(True)
    if lowered == "recurring":
        return RecurringTerm(True)
    if lowered == "overdue":
        return Overdue()
    # A field name used without an operator is almost always a typo such as
    # "due < 7d" or "priority=high", not a full-text search for the word.
    for field in _FIELDS:
        if lowered == field or (lowered.startswith(field) and lowered[len(field)] in "=!"):
            raise FilterSyntaxError(
                f"expected ':' or a comparison (<, <=, >, >=) after {word[: len(field)]!r}", start + len(field)
            )
    return TextTerm(word, quoted=False)


def _expected(what: str, context: str, value: str, pos: int) -> NoReturn:
    if not value:
        raise FilterSyntaxError(f"expected {what} right after {context}", pos)
    raise FilterSyntaxError(f"expected {what} after {context} but found {_quote(value)}", pos)


def _tag(value: str, pos: int, context: str) -> str:
    if not value:
        raise FilterSyntaxError(f"expected a tag name right after {context}", pos)
    for i, ch in enumerate(value):
        if not _TAG_CHAR.fullmatch(ch):
            raise FilterSyntaxError(
                f"expected only letters, digits, '-', '_', '.' or '/' in a tag name but found {ch!r}", pos + i
            )
    return value.lower()


def _priority(value: str, pos: int, context: str) -> Priority:
    try:
        return Priority[value.upper()]
    except KeyError:
        _expected("low, medium or high", context, value, pos)


def _date_ref(value: str, pos: int, context: str) -> DateRef:
    lowered = value.lower()
    if lowered in _NAMED_DAYS:
        return RelativeDay(_NAMED_DAYS[lowered])
    if lowered == "eow":
        return PeriodEnd("week")
    if lowered == "eom":
        return PeriodEnd("month")
    if match := _RELATIVE.fullmatch(value):
        days = int(match.group(1)) * (7 if match.group(2) in "wW" else 1)
        if abs(days) > MAX_RELATIVE_DAYS:
            raise FilterSyntaxError(f"relative date is more than {MAX_RELATIVE_DAYS} days away", pos)
        return RelativeInstant(days)
    if _ISO_DATE.fullmatch(value):
        return AbsoluteDay(_checked_date(value, pos))
    if match := _ISO_DATETIME.fullmatch(value):
        _checked_date(match.group(1), pos)
        if match.group(2) is None:
            raise FilterSyntaxError("expected a UTC offset (such as +01:00 or Z) after the time", pos + len(value))
        try:
            return AbsoluteInstant(datetime.fromisoformat(value.upper()))
        except ValueError:
            raise FilterSyntaxError(f"{_quote(value)} is not a valid datetime", pos) from None
    _expected(_DATE_FORMS, context, value, pos)


def _checked_date(value: str, pos: int) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterSyntaxError(f"{value!r} is not a valid calendar date", pos) from None
    if not _MIN_YEAR <= day.year <= _MAX_YEAR:
        raise FilterSyntaxError(f"expected a year between {_MIN_YEAR} and {_MAX_YEAR}", pos)
    return day

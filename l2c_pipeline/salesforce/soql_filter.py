"""Object filters: one SOQL WHERE condition, tokenized, parsed and written back normalised.

The grammar is Salesforce's condition grammar, without subqueries, functions or bind variables:

    condition   := NOT operand | operand (AND operand)* | operand (OR operand)*
    operand     := "(" condition ")" | comparison
    comparison  := field ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                 | field LIKE string
                 | field (IN | NOT IN) "(" value ("," value)* ")"
                 | field (INCLUDES | EXCLUDES) "(" string ("," string)* ")"
    field       := API name ("." API name)*          e.g. StageName, Account.Owner.Name
    value       := string | number | date | datetime | TRUE | FALSE | NULL | date literal

As in SOQL, AND and OR are not mixed without parentheses and NOT covers one operand; keywords
and date literals are case-insensitive. Strings are in single quotes with SOQL's backslash
escapes (\\' \\" \\\\ \\n \\r \\t \\b \\f \\uXXXX; \\_ and \\% in LIKE patterns only).

parse() returns the condition's tree, normalise() the condition as it is sent: one line, keywords
in capitals, no redundant parentheses. A refusal is a FilterError naming the character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from ..api_names import is_api_name

# Salesforce's date literals: relative ranges, evaluated by the org at query time.
DATE_LITERALS = frozenset(
    {
        "YESTERDAY",
        "TODAY",
        "TOMORROW",
        "LAST_WEEK",
        "THIS_WEEK",
        "NEXT_WEEK",
        "LAST_MONTH",
        "THIS_MONTH",
        "NEXT_MONTH",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
        "THIS_QUARTER",
        "LAST_QUARTER",
        "NEXT_QUARTER",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
        "THIS_FISCAL_QUARTER",
        "LAST_FISCAL_QUARTER",
        "NEXT_FISCAL_QUARTER",
        "THIS_FISCAL_YEAR",
        "LAST_FISCAL_YEAR",
        "NEXT_FISCAL_YEAR",
    }
)
# Those that take a count: LAST_N_DAYS:30.
DATE_LITERALS_N = frozenset(
    {
        "LAST_N_DAYS",
        "NEXT_N_DAYS",
        "N_DAYS_AGO",
        "LAST_N_WEEKS",
        "NEXT_N_WEEKS",
        "N_WEEKS_AGO",
        "LAST_N_MONTHS",
        "NEXT_N_MONTHS",
        "N_MONTHS_AGO",
        "LAST_N_QUARTERS",
        "NEXT_N_QUARTERS",
        "N_QUARTERS_AGO",
        "LAST_N_YEARS",
        "NEXT_N_YEARS",
        "N_YEARS_AGO",
        "LAST_N_FISCAL_QUARTERS",
        "NEXT_N_FISCAL_QUARTERS",
        "N_FISCAL_QUARTERS_AGO",
        "LAST_N_FISCAL_YEARS",
        "NEXT_N_FISCAL_YEARS",
        "N_FISCAL_YEARS_AGO",
    }
)
# Words of a whole query, never of a condition.
_CLAUSE_WORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "WITH",
        "GROUP",
        "ORDER",
        "BY",
        "HAVING",
        "LIMIT",
        "OFFSET",
        "FOR",
        "UPDATE",
        "DELETE",
        "INSERT",
        "USING",
        "TYPEOF",
        "ASC",
        "DESC",
        "NULLS",
    }
)
_OPERATOR_WORDS = frozenset(
    {"AND", "OR", "NOT", "IN", "LIKE", "INCLUDES", "EXCLUDES", "TRUE", "FALSE", "NULL"}
)
_COMPARISONS = ("<=", ">=", "!=", "<>", "=", "<", ">")
_WHITESPACE = " \t\r\n"
# Escapes after a backslash inside a string; _ and % only mean something in a LIKE pattern.
_ESCAPES = frozenset("nNrRtTbBfF\"'\\")
_LIKE_ESCAPES = frozenset("_%")
_RAW_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_DEPTH = 50


class FilterError(ValueError):
    """A condition that is not a plain SOQL condition; position is the 0-based character."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"at character {position + 1}: {problem}")
        self.position = position
        self.problem = problem


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, date, datetime, word, op, (, ), ",", end
    text: str  # as normalised: a string's canonical body, a word in the case written
    position: int
    count: str | None = None  # a date literal's :n
    like_escape: int | None = None  # position of the first \_ or \% in a string


@dataclass(frozen=True)
class Value:
    kind: str  # string, number, date, datetime, boolean, null, date_literal
    soql: str


@dataclass(frozen=True)
class Comparison:
    field: str
    operator: str  # = != < <= > >= LIKE
    value: Value


@dataclass(frozen=True)
class Membership:
    field: str
    operator: str  # IN, NOT IN, INCLUDES, EXCLUDES
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Logical:
    operator: str  # AND, OR
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Comparison | Membership | Logical | Not


def shown(text: str) -> str:
    """The condition quoted for a one-line message: control and line-break characters escaped."""
    out = []
    for char in text:
        if char in _RAW_CONTROL_ESCAPES:
            out.append(_RAW_CONTROL_ESCAPES[char])
        elif unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _char_name(char: str) -> str:
    if unicodedata.category(char)[0] == "C" or not char.isprintable():
        return f"character U+{ord(char):04X}"
    return f"'{char}'"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in _WHITESPACE:
            position += 1
            continue
        if char == "'":
            token, position = _string(text, position)
            tokens.append(token)
            if position < len(text) and text[position] == "'":
                raise FilterError(
                    position - 1,
                    "a quote inside a string is written \\' in SOQL, not '' (e.g. 'O\\'Brien')",
                )
            continue
        if char.isdigit() or (char in "+-" and text[position + 1 : position + 2].isdigit()):
            token, position = _number_or_date(text, position)
            tokens.append(token)
            continue
        if char.isascii() and (char.isalpha() or char == "_"):
            token, position = _word(text, position)
            tokens.append(token)
            continue
        operator = next((op for op in _COMPARISONS if text.startswith(op, position)), None)
        if operator:
            tokens.append(Token("op", operator, position))
            position += len(operator)
            continue
        if char in "(),":
            tokens.append(Token(char, char, position))
            position += 1
            continue
        if char == ":":
            raise FilterError(position, "bind variables (:name) are Apex only; write the value")
        if char == '"':
            raise FilterError(position, "unexpected '\"': SOQL strings go in single quotes")
        raise FilterError(position, f"unexpected {_char_name(char)}")
    tokens.append(Token("end", "", len(text)))
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    body: list[str] = []
    like_escape = None
    position = start + 1
    while True:
        if position >= len(text):
            raise FilterError(start, "the string that starts here is not closed")
        char = text[position]
        if char == "'":
            break
        if char == "\\":
            escaped = text[position + 1 : position + 2]
            if escaped in _ESCAPES:
                body.append("\\" + escaped)
                position += 2
                continue
            if escaped in _LIKE_ESCAPES:
                like_escape = position if like_escape is None else like_escape
                body.append("\\" + escaped)
                position += 2
                continue
            if escaped == "u":
                digits = text[position + 2 : position + 6]
                if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                    if 0xD800 <= int(digits, 16) <= 0xDFFF:
                        raise FilterError(position, f"'\\u{digits}' is not a character")
                    body.append("\\u" + digits)
                    position += 6
                    continue
                raise FilterError(position, "'\\u' needs four hex digits, e.g. \\u00e9")
            what = _char_name(escaped) if escaped else "the end of the condition"
            raise FilterError(
                position,
                f"backslash before {what} is not a SOQL escape "
                "(\\' \\\" \\\\ \\n \\r \\t \\b \\f \\uXXXX, and \\_ \\% in LIKE)",
            )
        if char in _RAW_CONTROL_ESCAPES:
            body.append(_RAW_CONTROL_ESCAPES[char])
        elif unicodedata.category(char) == "Cc":
            raise FilterError(position, f"{_char_name(char)} inside a string")
        else:
            body.append(char)
        position += 1
    return Token("string", "".join(body), start, like_escape=like_escape), position + 1


def _number_or_date(text: str, start: int) -> tuple[Token, int]:
    if match := _DATETIME.match(text, start):
        offset = match.group(8)
        if offset != "Z" and ":" not in offset:
            offset = offset[:3] + ":" + offset[3:]
        normal = match.group(0)[: match.start(8) - start] + offset
        try:
            datetime.fromisoformat(normal.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(start, f"{match.group(0)} is not a valid datetime") from None
        token = Token("datetime", normal, start)
        end = match.end()
    elif _DATE.match(text, start) and text[start + 10 : start + 11] == "T":
        raise FilterError(
            start,
            "a datetime is written YYYY-MM-DDThh:mm:ss with Z or an offset "
            "(2024-01-31T23:00:00Z, 2024-01-31T23:00:00.000+01:00)",
        )
    elif match := _DATE.match(text, start):
        try:
            date.fromisoformat(match.group(0))
        except ValueError:
            raise FilterError(start, f"{match.group(0)} is not a valid date") from None
        token = Token("date", match.group(0), start)
        end = match.end()
    else:
        match = _NUMBER.match(text, start)
        token = Token("number", match.group(0), start)
        end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_.:"):
        raise FilterError(start, f"malformed number or date {text[start : end + 1]!r}")
    return token, end


def _word(text: str, start: int) -> tuple[Token, int]:
    match = _WORD.match(text, start)
    end = match.end()
    while end < len(text) and text[end] == ".":
        part = _WORD.match(text, end + 1)
        if not part:
            raise FilterError(end, "a field path has a name after each '.'")
        end = part.end()
    word = text[start:end]
    count = None
    if end < len(text) and text[end] == ":":
        digits = re.compile(r"\d+").match(text, end + 1)
        if not digits:
            raise FilterError(end, f"'{word}:' needs a whole number, e.g. {word}:30")
        count = digits.group(0)
        end = digits.end()
    return Token("word", word, start, count=count), end


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text.upper() in words

    def found(self, token: Token | None = None) -> str:
        token = token or self.token
        if token.kind == "end":
            return "the end of the condition"
        if token.kind == "string":
            return "a string"
        return f"'{self.text[token.position : token.position + len(token.text)]}'"

    def refuse_clause_word(self, token: Token) -> None:
        if token.kind == "word" and token.text.upper() in _CLAUSE_WORDS:
            raise FilterError(
                token.position,
                f"'{token.text}' is not allowed in a filter: it is one condition "
                "(no subquery, SELECT, FROM, LIMIT, ORDER BY, GROUP BY)",
            )

    # condition := NOT operand | operand (AND operand)* | operand (OR operand)*
    def condition(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise FilterError(self.token.position, "parentheses nested too deep")
        if self.at_word("NOT"):
            self.advance()
            operand = self.operand(depth)
            if self.at_word("AND", "OR"):
                raise FilterError(
                    self.token.position,
                    f"NOT covers one condition: put it in parentheses before "
                    f"{self.token.text.upper()}, e.g. (NOT a = 1) {self.token.text.upper()} b = 2",
                )
            return Not(operand)
        operands = [self.operand(depth)]
        operator = None
        while self.at_word("AND", "OR"):
            word = self.token.text.upper()
            if operator is None:
                operator = word
            elif word != operator:
                raise FilterError(
                    self.token.position,
                    f"{word} after {operator} needs parentheses: SOQL does not mix AND and OR "
                    "at one level, e.g. (a = 1 AND b = 2) OR c = 3",
                )
            self.advance()
            if self.at_word("NOT"):
                raise FilterError(
                    self.token.position,
                    f"NOT after {operator} needs parentheses, e.g. a = 1 {operator} (NOT b = 2)",
                )
            operands.append(self.operand(depth))
        return operands[0] if len(operands) == 1 else Logical(operator, tuple(operands))

    # operand := "(" condition ")" | comparison
    def operand(self, depth: int) -> Node:
        if self.token.kind == "(":
            opening = self.advance()
            self.refuse_clause_word(self.token)
            if self.token.kind == ")":
                raise FilterError(self.token.position, "empty parentheses")
            inner = self.condition(depth + 1)
            if self.token.kind == "end":
                raise FilterError(opening.position, "this '(' is never closed")
            if self.token.kind != ")":
                raise FilterError(
                    self.token.position, f"expected AND, OR or ')', found {self.found()}"
                )
            self.advance()
            return inner
        return self.comparison()

    def field(self) -> str:
        token = self.advance()
        self.refuse_clause_word(token)
        if token.kind != "word":
            if token.kind == ")":
                raise FilterError(token.position, "this ')' closes no '('")
            raise FilterError(token.position, f"expected a field name, found {self.found(token)}")
        upper = token.text.upper()
        if upper in _OPERATOR_WORDS or upper in DATE_LITERALS or upper in DATE_LITERALS_N:
            raise FilterError(token.position, f"expected a field name, found '{token.text}'")
        if token.count is not None:
            raise FilterError(token.position, f"'{token.text}:{token.count}' is not a field name")
        if self.token.kind == "(":
            raise FilterError(
                token.position, f"functions such as {token.text}() are not supported in a filter"
            )
        offset = token.position
        for part in token.text.split("."):
            if not is_api_name(part):
                raise FilterError(offset, f"'{part}' is not a valid Salesforce API name")
            offset += len(part) + 1
        return token.text

    def comparison(self) -> Node:
        field = self.field()
        token = self.token
        if token.kind == "op":
            self.advance()
            operator = "!=" if token.text == "<>" else token.text
            return Comparison(field, operator, self.value(operator, token))
        if self.at_word("LIKE"):
            self.advance()
            value_token = self.token
            if value_token.kind != "string":
                raise FilterError(
                    value_token.position,
                    f"LIKE needs a string pattern, found {self.found(value_token)}",
                )
            self.advance()
            return Comparison(field, "LIKE", Value("string", f"'{value_token.text}'"))
        if self.at_word("NOT"):
            self.advance()
            if not self.at_word("IN"):
                raise FilterError(
                    token.position,
                    f"NOT after a field can only be NOT IN; to negate a comparison put NOT "
                    f"before the field (NOT {field} {self.token.text.upper() or '='} ...)",
                )
            self.advance()
            return Membership(field, "NOT IN", self.value_list("NOT IN"))
        if self.at_word("IN", "INCLUDES", "EXCLUDES"):
            operator = self.advance().text.upper()
            return Membership(field, operator, self.value_list(operator))
        raise FilterError(
            token.position,
            f"expected an operator after {field} (= != <> < <= > >= LIKE IN NOT IN INCLUDES "
            f"EXCLUDES), found {self.found()}",
        )

    def value(self, operator: str, operator_token: Token) -> Value:
        token = self.advance()
        self.refuse_clause_word(token)
        value = self.literal(token, f"after '{operator_token.text}'")
        if value.kind in ("null", "boolean") and operator not in ("=", "!="):
            raise FilterError(token.position, f"{value.soql} can only be compared with = or !=")
        return value

    def value_list(self, operator: str) -> tuple[Value, ...]:
        opening = self.advance()
        if opening.kind != "(":
            raise FilterError(
                opening.position,
                f"{operator} needs a list in parentheses, e.g. {operator} ('a', 'b'); "
                f"found {self.found(opening)}",
            )
        self.refuse_clause_word(self.token)
        values: list[Value] = []
        while True:
            token = self.advance()
            if token.kind == "end":
                raise FilterError(opening.position, "this '(' is never closed")
            if token.kind == ")" and not values:
                raise FilterError(token.position, f"{operator} needs at least one value")
            value = self.literal(token, f"in the {operator} list")
            if operator in ("INCLUDES", "EXCLUDES") and value.kind != "string":
                raise FilterError(token.position, f"{operator} takes strings only")
            if value.kind in ("null", "boolean", "date_literal"):
                raise FilterError(token.position, f"{value.soql} is not allowed in an IN list")
            if values and value.kind != values[0].kind:
                raise FilterError(
                    token.position,
                    f"a list mixes values of different kinds ({values[0].kind}, {value.kind})",
                )
            values.append(value)
            separator = self.advance()
            if separator.kind == ")":
                return tuple(values)
            if separator.kind == "end":
                raise FilterError(opening.position, "this '(' is never closed")
            if separator.kind != ",":
                raise FilterError(
                    separator.position, f"expected ',' or ')' in the list, found {self.found()}"
                )

    def literal(self, token: Token, where: str) -> Value:
        if token.kind == "string":
            if token.like_escape is not None:
                raise FilterError(
                    token.like_escape, "\\_ and \\% are escapes of LIKE patterns only"
                )
            return Value("string", f"'{token.text}'")
        if token.kind in ("number", "date", "datetime"):
            return Value(token.kind, token.text)
        if token.kind == "word":
            upper = token.text.upper()
            if upper in ("TRUE", "FALSE"):
                return Value("boolean", upper)
            if upper == "NULL":
                return Value("null", upper)
            if upper in DATE_LITERALS_N:
                if token.count is None:
                    raise FilterError(token.position, f"{upper} needs a number, e.g. {upper}:30")
                return Value("date_literal", f"{upper}:{int(token.count)}")
            if upper in DATE_LITERALS:
                if token.count is not None:
                    raise FilterError(token.position, f"{upper} takes no number")
                return Value("date_literal", upper)
            if token.count is not None:
                raise FilterError(token.position, f"'{token.text}' is not a date literal")
            raise FilterError(
                token.position,
                f"expected a value {where}, found '{token.text}' "
                f"(strings go in single quotes: '{token.text}')",
            )
        if token.kind == "(":
            if self.at_word("SELECT"):
                self.refuse_clause_word(self.token)
            raise FilterError(token.position, f"expected a value {where}, found '('")
        if token.kind == ")":
            raise FilterError(token.position, f"expected a value {where}, found ')'")
        raise FilterError(token.position, f"expected a value {where}, found {self.found(token)}")

    def parse(self) -> Node:
        node = self.condition(0)
        token = self.token
        if token.kind == ")":
            raise FilterError(token.position, "this ')' closes no '('")
        if token.kind != "end":
            self.refuse_clause_word(token)
            raise FilterError(
                token.position, f"expected AND, OR or the end, found {self.found(token)}"
            )
        return node


def parse(condition: str) -> Node:
    """The condition's tree; FilterError if it is not a plain SOQL condition."""
    if not condition.strip(_WHITESPACE):
        raise FilterError(0, "the condition is empty")
    return _Parser(condition).parse()


def to_soql(node: Node) -> str:
    if isinstance(node, Comparison):
        return f"{node.field} {node.operator} {node.value.soql}"
    if isinstance(node, Membership):
        return f"{node.field} {node.operator} ({', '.join(v.soql for v in node.values)})"
    if isinstance(node, Not):
        return f"NOT {_operand(node.operand)}"
    return f" {node.operator} ".join(_operand(operand) for operand in node.operands)


def _operand(node: Node) -> str:
    text = to_soql(node)
    return f"({text})" if isinstance(node, Logical | Not) else text


def normalise(condition: str) -> str:
    """The condition as sent: checked, on one line, keywords in capitals."""
    return to_soql(parse(condition))

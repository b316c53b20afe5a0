"""The SOQL subset the extractor sends, parsed and compiled to parameterised DuckDB SQL.

Grammar: SELECT (COUNT() | item, ...) FROM Object [WHERE condition] [GROUP BY item, ...]
[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n], where an item is a
field or, in an aggregate query, COUNT / COUNT_DISTINCT / MIN / MAX / SUM / CALENDAR_YEAR /
CALENDAR_MONTH of a field with an optional alias (unnamed ones answer as expr0, expr1, ..., as
Salesforce's AggregateResult does; date functions count in UTC). Conditions combine comparisons
(= != <> < <= > >=), LIKE, IN / NOT IN, INCLUDES / EXCLUDES with AND, OR, NOT and parentheses.
Literals follow SOQL: datetimes, dates and date literals (TODAY, LAST_N_DAYS:30, ...) unquoted,
strings in single quotes with backslash escapes. Errors carry Salesforce's error codes and wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .ids import is_valid_id


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
      |(?P<date>\d{4}-\d{2}-\d{2})
      |(?P<number>[+-]?\d+(?:\.\d+)?)
      |(?P<string>'(?:[^'\\]|\\.)*')
      |(?P<op><=|>=|!=|<>|=|<|>)
      |(?P<punct>[(),])
      |(?P<dateliteral>[A-Za-z_][A-Za-z0-9_]*:\d+)
      |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "offset",
    "like",
    "in",
    "null",
    "true",
    "false",
    "count",
    "group",
    "includes",
    "excludes",
}
AGGREGATE_FUNCTIONS = (
    "count",
    "count_distinct",
    "min",
    "max",
    "sum",
    "calendar_year",
    "calendar_month",
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int

    @property
    def keyword(self) -> str | None:
        lowered = self.text.lower()
        return lowered if self.kind == "name" and lowered in _KEYWORDS else None


@dataclass(frozen=True)
class Literal:
    kind: str  # string, datetime, date, number, boolean, null, dateliteral (value: (name, n))
    value: object
    column: int
    pattern: str | None = None  # a string as a LIKE pattern (ESCAPE '\\')
    like_only: bool = False  # the string uses \_ or \%, escapes of LIKE patterns only


# Date literals: a period (day, week, ...) this, last or next; n periods last, next or ago.
_PERIODS = ("WEEK", "MONTH", "QUARTER", "YEAR", "FISCAL_QUARTER", "FISCAL_YEAR")
_N_PERIODS = ("DAYS", "WEEKS", "MONTHS", "QUARTERS", "YEARS", "FISCAL_QUARTERS", "FISCAL_YEARS")
DATE_LITERALS = frozenset(
    {"YESTERDAY", "TODAY", "TOMORROW", "LAST_90_DAYS", "NEXT_90_DAYS"}
    | {f"{which}_{period}" for which in ("THIS", "LAST", "NEXT") for period in _PERIODS}
)
DATE_LITERALS_N = frozenset(
    {f"{which}_N_{periods}" for which in ("LAST", "NEXT") for periods in _N_PERIODS}
    | {f"N_{periods}_AGO" for periods in _N_PERIODS}
)
# After a backslash, case-insensitive (\N is \n); \uXXXX, \_ and \% are handled apart.
_STRING_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


@dataclass
class Query:
    object_name: str
    fields: list[tuple[str, int]]  # (name as written, column)
    count_only: bool
    where: tuple | None
    order_by: list[tuple[str, bool, bool | None, int]]  # field, descending, nulls_first, column
    limit: int | None
    offset: int | None
    text: str
    # Aggregate queries: the selected items (function or None, field, column, alias) and GROUP BY.
    items: list[tuple[str | None, str, int, str | None]] = None
    group_by: list[tuple[str | None, str, int]] = None

    @property
    def aggregate(self) -> bool:
        return any(function for function, *_ in self.items or ())


def _tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise SoqlError(
                "MALFORMED_QUERY",
                f"unexpected token: '{text[position : position + 10].split()[0]}'",
            )
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), position + 1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.position += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.keyword in words

    def expect_keyword(self, word: str) -> Token:
        token = self.next()
        if token.keyword != word:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return token

    def expect_punct(self, char: str) -> None:
        token = self.next()
        if token.text != char:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")

    def name(self, *, any_word: bool = False) -> Token:
        token = self.next()
        if token.kind != "name" or (
            not any_word and token.keyword and token.keyword not in ("first", "last", "count")
        ):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return token

    def parse(self) -> Query:
        self.expect_keyword("select")
        fields: list[tuple[str, int]] = []
        count_only = False
        if (
            self.at_keyword("count")
            and self.position + 1 < len(self.tokens)
            and self.tokens[self.position + 1].text == "("
        ):
            self.next()
            self.expect_punct("(")
            self.expect_punct(")")
            count_only = True
        items = []
        if not count_only:
            while True:
                function, token = self.item()
                alias = None
                following = self.peek()
                if function and following is not None and following.kind == "name":
                    alias = None if following.keyword else self.next().text
                items.append((function, token.text, token.column, alias))
                if function is None:
                    fields.append((token.text, token.column))
                if self.peek() is not None and self.peek().text == ",":
                    self.next()
                    continue
                break
        self.expect_keyword("from")
        object_token = self.name(any_word=True)  # "Order" is an object, not ORDER BY
        where = None
        if self.at_keyword("where"):
            self.next()
            where = self.condition()
        group_by = []
        if self.at_keyword("group"):
            self.next()
            self.expect_keyword("by")
            group_by = [
                (function, token.text, token.column)
                for function, token in self.comma_separated(self.item)
            ]
        order_by = []
        if self.at_keyword("order"):
            self.next()
            self.expect_keyword("by")
            while True:
                token = self.name()
                descending, nulls_first = False, None
                if self.at_keyword("asc", "desc"):
                    descending = self.next().keyword == "desc"
                if self.at_keyword("nulls"):
                    self.next()
                    which = self.next()
                    if which.keyword not in ("first", "last"):
                        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{which.text}'")
                    nulls_first = which.keyword == "first"
                order_by.append((token.text, descending, nulls_first, token.column))
                if self.peek() is not None and self.peek().text == ",":
                    self.next()
                    continue
                break
        limit = offset = None
        if self.at_keyword("limit"):
            self.next()
            limit = self.integer()
        if self.at_keyword("offset"):
            self.next()
            offset = self.integer()
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text}'")
        query = Query(
            object_token.text,
            fields,
            count_only,
            where,
            order_by,
            limit,
            offset,
            self.text,
            items,
            group_by,
        )
        if group_by and not query.aggregate:
            raise SoqlError("MALFORMED_QUERY", "GROUP BY needs an aggregate function")
        return query

    def item(self) -> tuple[str | None, Token]:
        """A field, or FUNCTION(field) for the aggregate functions."""
        token = self.name()
        if self.peek() is None or self.peek().text != "(":
            return None, token
        function = token.text.lower()
        if function not in AGGREGATE_FUNCTIONS:
            raise SoqlError("MALFORMED_QUERY", f"unknown function: '{token.text}'")
        self.expect_punct("(")
        argument = self.name()
        self.expect_punct(")")
        return function, argument

    def comma_separated(self, parse_one) -> list:
        items = [parse_one()]
        while self.peek() is not None and self.peek().text == ",":
            self.next()
            items.append(parse_one())
        return items

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return int(token.text)

    def condition(self) -> tuple:
        terms = [self.conjunction()]
        while self.at_keyword("or"):
            self.next()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def conjunction(self) -> tuple:
        terms = [self.negation()]
        while self.at_keyword("and"):
            self.next()
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else ("and", terms)

    def negation(self) -> tuple:
        if self.at_keyword("not"):
            self.next()
            return ("not", self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.next()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> tuple:
        field = self.name()
        if self.at_keyword("like"):
            self.next()
            return ("like", field, self.literal())
        if self.at_keyword("includes", "excludes"):
            excludes = self.next().keyword == "excludes"
            self.expect_punct("(")
            values = self.comma_separated(self.literal)
            self.expect_punct(")")
            return ("includes", field, excludes, values)
        negate = False
        if self.at_keyword("not"):
            self.next()
            negate = True
            if not self.at_keyword("in"):
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"unexpected token: '{self.peek().text if self.peek() else 'NOT'}'",
                )
        if self.at_keyword("in"):
            self.next()
            self.expect_punct("(")
            values = self.comma_separated(self.literal)
            self.expect_punct(")")
            return ("in", field, negate, values)
        operator = self.next()
        if operator.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{operator.text}'")
        return ("cmp", field, "!=" if operator.text == "<>" else operator.text, self.literal())

    def literal(self) -> Literal:
        token = self.next()
        if token.kind == "string":
            return _string_literal(token)
        if token.kind == "dateliteral":
            name, count = token.text.split(":")
            if name.upper() not in DATE_LITERALS_N:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
            return Literal("dateliteral", (name.upper(), int(count)), token.column)
        if token.kind == "name" and token.text.upper() in DATE_LITERALS:
            return Literal("dateliteral", (token.text.upper(), None), token.column)
        if token.kind == "datetime":
            text = token.text.replace("Z", "+00:00")
            if re.search(r"[+-]\d{4}$", text):
                text = text[:-2] + ":" + text[-2:]
            moment = datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
            return Literal("datetime", moment, token.column)
        if token.kind == "date":
            return Literal("date", date.fromisoformat(token.text), token.column)
        if token.kind == "number":
            return Literal("number", float(token.text), token.column)
        if token.keyword in ("true", "false"):
            return Literal("boolean", token.keyword == "true", token.column)
        if token.keyword == "null":
            return Literal("null", None, token.column)
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")


def _string_literal(token: Token) -> Literal:
    """A quoted string decoded (SOQL's backslash escapes), and as a DuckDB LIKE pattern."""
    body = token.text[1:-1]
    value: list[str] = []
    pattern: list[str] = []
    like_only = False
    position = 0
    while position < len(body):
        char = body[position]
        if char != "\\":
            value.append(char)
            pattern.append(char)
            position += 1
            continue
        escaped = body[position + 1 : position + 2]
        digits = body[position + 2 : position + 6]
        if escaped.lower() in _STRING_ESCAPES:
            decoded = _STRING_ESCAPES[escaped.lower()]
            position += 2
        elif escaped in ("_", "%"):
            like_only = True
            value.append(escaped)
            pattern.append("\\" + escaped)
            position += 2
            continue
        elif escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", digits):
            decoded = chr(int(digits, 16))
            position += 6
        else:
            raise SoqlError(
                "MALFORMED_QUERY",
                f"Invalid string literal '{body}'. Illegal character sequence "
                f"'\\{escaped}' in string literal.",
            )
        value.append(decoded)
        pattern.append("\\\\" if decoded == "\\" else decoded)
    return Literal("string", "".join(value), token.column, "".join(pattern), like_only)


def _period_start(today: date, unit: str) -> date:
    """The first day of the day, week (Sunday, as in en_US), month, quarter or year of today.
    Fiscal periods are calendar ones: the demo org's fiscal year starts in January."""
    if unit == "DAY":
        return today
    if unit == "WEEK":
        return today - timedelta(days=(today.weekday() + 1) % 7)
    months = 1 if unit == "MONTH" else 3 if unit.endswith("QUARTER") else 12
    index = today.year * 12 + today.month - 1
    index -= index % months
    return date(index // 12, index % 12 + 1, 1)


def _shifted(start: date, unit: str, periods: int) -> date:
    if unit == "DAY":
        return start + timedelta(days=periods)
    if unit == "WEEK":
        return start + timedelta(days=7 * periods)
    months = 1 if unit == "MONTH" else 3 if unit.endswith("QUARTER") else 12
    index = start.year * 12 + start.month - 1 + months * periods
    return date(index // 12, index % 12 + 1, 1)


def date_literal_range(name: str, count: int | None, today: date) -> tuple[date, date]:
    """The days [first, end) a date literal stands for, today being the given day."""
    name = {"YESTERDAY": "LAST_DAY", "TODAY": "THIS_DAY", "TOMORROW": "NEXT_DAY"}.get(name, name)
    if name in ("LAST_90_DAYS", "NEXT_90_DAYS"):
        name, count = name.replace("90", "N"), 90
    which, _, rest = name.partition("_")
    if which == "N":  # N_DAYS_AGO
        which, rest = "AGO", rest.removesuffix("_AGO")
    elif rest.startswith("N_"):
        which, rest = which + "_N", rest[2:]
    unit = rest.removesuffix("S") if count is not None else rest
    start = _period_start(today, unit)
    if which == "THIS":
        return start, _shifted(start, unit, 1)
    if which == "LAST":
        return _shifted(start, unit, -1), start
    if which == "NEXT":
        return _shifted(start, unit, 1), _shifted(start, unit, 2)
    if which == "LAST_N":  # whole periods before this one; LAST_N_DAYS includes today
        if unit == "DAY":
            return start - timedelta(days=count), start + timedelta(days=1)
        return _shifted(start, unit, -count), start
    if which == "NEXT_N":  # whole periods after this one
        return _shifted(start, unit, 1), _shifted(start, unit, 1 + count)
    return _shifted(start, unit, -count), _shifted(start, unit, 1 - count)  # AGO


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "empty query")
    return _Parser(text.strip()).parse()


def _located(query_text: str, column: int, message: str) -> str:
    """Salesforce points at the offending spot: the query, a caret, then Row:Column."""
    return f"\n{query_text}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n{message}"


_TEXT_TYPES = {
    "string",
    "picklist",
    "textarea",
    "email",
    "phone",
    "url",
    "combobox",
    "multipicklist",
}
_NUMBER_TYPES = {"double", "currency", "percent", "int"}
_SOAP_NAMES = {"datetime": "dateTime", "date": "date", "boolean": "boolean"}


@dataclass
class Compiled:
    sql: str
    params: list
    columns: list[str]  # canonical field names selected (empty for COUNT())
    object_name: str
    aggregate: bool = False  # an AggregateResult query: columns are its answer's names


def compile_query(
    query: Query,
    object_name: str,
    field_types: dict[str, str],
    *,
    include_deleted: bool,
    today: date | None = None,
) -> Compiled:
    """Compile against one object's fields (canonical name -> describe type); date literals are
    ranges around today (UTC, the real date unless given)."""
    today = today or datetime.now(UTC).date()
    lookup = {name.lower(): name for name in field_types}

    def resolve(name: str, column: int) -> str:
        canonical = lookup.get(name.lower())
        if canonical is None:
            if "." in name:
                message = (
                    f"Didn't understand relationship '{name.split('.')[0]}' in field path. "
                    "The demo org serves fields of the queried object only."
                )
            else:
                message = (
                    f"No such column '{name}' on entity '{object_name}'. If you are attempting "
                    "to use a custom field, be sure to append the '__c' after the custom field "
                    "name. Please reference your WSDL or the describe call for the appropriate names."
                )
            raise SoqlError("INVALID_FIELD", _located(query.text, column, message))
        return canonical

    params: list = []

    def value_sql(canonical: str, literal: Literal) -> str:
        field_type = field_types[canonical]
        expected = None
        if field_type == "datetime":
            expected = "datetime"
        elif field_type == "date":
            expected = "date"
        elif field_type in _NUMBER_TYPES:
            expected = "number"
        elif field_type == "boolean":
            expected = "boolean"
        else:
            expected = "string"
        if literal.kind != expected:
            quoted = (
                "and should be enclosed in quotes"
                if expected == "string"
                else "and should not be enclosed in quotes"
            )
            type_name = _SOAP_NAMES.get(
                field_type, "string" if expected == "string" else field_type
            )
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    query.text,
                    literal.column,
                    f"value of filter criterion for field '{canonical}' must be of type {type_name} {quoted}",
                ),
            )
        if literal.like_only:
            raise SoqlError(
                "MALFORMED_QUERY",
                _located(
                    query.text,
                    literal.column,
                    "Invalid string literal: \\_ and \\% are escapes of LIKE patterns only",
                ),
            )
        if field_type in ("id", "reference") and not is_valid_id(str(literal.value)):
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                _located(query.text, literal.column, f"invalid ID field: {literal.value}"),
            )
        params.append(literal.value)
        return "?"

    def column_sql(canonical: str) -> str:
        return '"' + canonical.replace('"', '""') + '"'

    def condition_sql(node: tuple) -> str:
        kind = node[0]
        if kind in ("and", "or"):
            return "(" + f" {kind.upper()} ".join(condition_sql(term) for term in node[1]) + ")"
        if kind == "not":
            return f"(NOT {condition_sql(node[1])})"
        field_token = node[1]
        canonical = resolve(field_token.text, field_token.column)
        column = column_sql(canonical)
        field_type = field_types[canonical]
        text_like = field_type in _TEXT_TYPES
        if kind == "like":
            literal = node[2]
            if literal.kind != "string":
                raise SoqlError(
                    "INVALID_FIELD",
                    _located(query.text, literal.column, "LIKE needs a quoted string"),
                )
            params.append(literal.pattern)
            return f"({column} ILIKE ? ESCAPE '\\')"
        if kind == "includes":
            _, _, excludes, values = node
            if field_type != "multipicklist":
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    _located(
                        query.text,
                        field_token.column,
                        "includes or excludes operator only valid on multipicklist field",
                    ),
                )
            terms = []
            for value in values:
                value_sql(canonical, value)  # checks the value is a string
                terms.append(
                    f"list_has_all(string_split(lower(coalesce({column}, '')), ';'), "
                    "string_split(lower(?), ';'))"
                )
            either = " OR ".join(terms)
            return f"(NOT ({either}))" if excludes else f"({either})"
        if kind == "in":
            _, _, negate, values = node
            if any(v.kind == "null" for v in values):
                raise SoqlError("MALFORMED_QUERY", "unexpected token: 'null'")
            placeholders = ", ".join(value_sql(canonical, v) for v in values)
            target = f"lower({column})" if text_like else column
            if text_like:
                placeholders = ", ".join("lower(?)" for _ in values)
            return f"({target} {'NOT IN' if negate else 'IN'} ({placeholders}))"
        _, _, operator, literal = node
        if literal.kind == "dateliteral" and field_type in ("date", "datetime"):
            try:
                first, end = date_literal_range(*literal.value, today)
            except (OverflowError, ValueError):
                raise SoqlError(
                    "MALFORMED_QUERY",
                    _located(query.text, literal.column, "date literal out of range"),
                ) from None
            if field_type == "datetime":
                first, end = datetime.combine(first, time()), datetime.combine(end, time())
            if operator == "=":
                params.extend([first, end])
                return f"({column} >= ? AND {column} < ?)"
            if operator == "!=":  # SOQL's != keeps rows where the field is null
                params.extend([first, end])
                return f"({column} IS NULL OR {column} < ? OR {column} >= ?)"
            params.append({"<": first, "<=": end, ">": end, ">=": first}[operator])
            return f"({column} {'<' if operator in ('<', '<=') else '>='} ?)"
        if literal.kind == "null":
            if operator not in ("=", "!="):
                raise SoqlError("MALFORMED_QUERY", "unexpected token: 'null'")
            return f"({column} IS {'NOT ' if operator == '!=' else ''}NULL)"
        placeholder = value_sql(canonical, literal)
        if field_type in ("id", "reference") and len(str(literal.value)) == 15:
            column = f"left({column}, 15)"
        if text_like and operator in ("=", "!="):
            comparison = "=" if operator == "=" else "IS DISTINCT FROM"
            return f"(lower({column}) {comparison} lower({placeholder}))"
        if operator == "!=":  # SOQL's != keeps rows where the field is null
            return f"({column} IS DISTINCT FROM {placeholder})"
        return f"({column} {operator} {placeholder})"

    columns = [resolve(name, column) for name, column in query.fields]
    conditions = []
    if query.where is not None:
        conditions.append(condition_sql(query.where))
    if not include_deleted and "IsDeleted" in field_types:
        conditions.append('("IsDeleted" = false)')
    where_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    table = column_sql(object_name)
    if query.count_only:
        return Compiled(f"SELECT count(*) FROM {table}{where_sql}", params, [], object_name)
    if query.aggregate:
        return _compile_aggregate(query, resolve, field_types, table, where_sql, params)

    order_terms = []
    for name, descending, nulls_first, column in query.order_by:
        canonical = resolve(name, column)
        if nulls_first is None:
            nulls_first = not descending  # Salesforce: nulls first ascending, last descending
        order_terms.append(
            f"{column_sql(canonical)} {'DESC' if descending else 'ASC'} "
            f"NULLS {'FIRST' if nulls_first else 'LAST'}"
        )
    if not order_terms and "Id" in field_types:
        order_terms.append('"Id" ASC')
    if query.offset is not None and query.offset > 2000:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
    select = ", ".join(column_sql(c) for c in columns)
    sql = f"SELECT {select} FROM {table}{where_sql} ORDER BY {', '.join(order_terms)}"
    if query.limit is not None:
        sql += f" LIMIT {int(query.limit)}"
    if query.offset is not None:
        sql += f" OFFSET {int(query.offset)}"
    return Compiled(sql, params, columns, object_name)


def _compile_aggregate(query: Query, resolve, field_types, table, where_sql, params) -> Compiled:
    def item_sql(function: str | None, name: str, column: int) -> str:
        canonical = resolve(name, column)
        quoted = '"' + canonical.replace('"', '""') + '"'
        if function is None:
            return quoted
        if function in ("calendar_year", "calendar_month"):
            if field_types[canonical] not in ("datetime", "date"):
                raise SoqlError(
                    "MALFORMED_QUERY", f"{function.upper()} needs a date or datetime field"
                )
            return f"{'year' if function == 'calendar_year' else 'month'}({quoted})"
        if function == "count_distinct":
            return f"count(DISTINCT {quoted})"
        return f"{function}({quoted})"

    grouped = {(f, n.lower()) for f, n, _ in query.group_by}
    selected, names, unnamed = [], [], 0
    for function, name, column, alias in query.items:
        if (
            function in (None, "calendar_year", "calendar_month")
            and (
                function,
                name.lower(),
            )
            not in grouped
        ):
            raise SoqlError(
                "MALFORMED_QUERY",
                _located(
                    query.text,
                    column,
                    f"Field must be grouped or aggregated: {name}",
                ),
            )
        if alias is None and function is not None:
            alias, unnamed = f"expr{unnamed}", unnamed + 1
        output = alias or resolve(name, column)
        selected.append(f'{item_sql(function, name, column)} AS "{output}"')
        names.append(output)
    group_sql = ""
    if query.group_by:
        group_sql = " GROUP BY " + ", ".join(item_sql(f, n, c) for f, n, c in query.group_by)
    sql = f"SELECT {', '.join(selected)} FROM {table}{where_sql}{group_sql}"
    if query.limit is not None:
        sql += f" LIMIT {int(query.limit)}"
    return Compiled(sql, params, names, query.object_name, aggregate=True)

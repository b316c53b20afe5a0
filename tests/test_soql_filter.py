"""Object filters (`where:` in L2C_OBJECTS_FILE): the SOQL condition parser accepts exactly plain
conditions, sends them normalised, refuses the rest at a named character, and what it accepts
runs on the demo org, over HTTPS too, with the incremental condition outside the filter."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta

import duckdb
import pytest

from l2c_pipeline.demo_org import soql as demo_soql
from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.demo_org.store import OrgStore
from l2c_pipeline.salesforce import soql_filter
from l2c_pipeline.salesforce.catalogue import CatalogueError, check_filter, load_catalogue
from l2c_pipeline.salesforce.client import SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings
from l2c_pipeline.salesforce.sync import sync_object
from l2c_pipeline.warehouse.duckdb_warehouse import connect


def write_config(tmp_path, where: str, name: str = "Task"):
    path = tmp_path / "objects.yaml"
    path.write_text(
        f"objects:\n  - name: {name}\n    where: |-\n{textwrap.indent(where, '      ')}\n",
        encoding="utf-8",
    )
    return path


def refusal(tmp_path, where: str) -> str:
    path = write_config(tmp_path, where)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(["Task"], path)
    return str(caught.value)


# ------------------------------------------------------------------ the three escapes of the old check


def test_a_filter_cannot_close_its_parentheses_early(tmp_path):
    """Balanced counts are not balanced parentheses: this would have made (filter) AND incremental
    into a full read."""
    message = refusal(tmp_path, "Status != 'zz') OR (Status = 'zz'")
    path = tmp_path / "objects.yaml"
    assert message == (
        f"{path} objects[1] (Task): where \"Status != 'zz') OR (Status = 'zz'\": "
        "at character 15: this ')' closes no '('"
    )


def test_a_doubled_quote_is_refused_with_the_soql_escape_named(tmp_path):
    message = refusal(tmp_path, "Subject = 'O''Brien'")
    assert "at character 13" in message
    assert "a quote inside a string is written \\' in SOQL, not ''" in message


def test_date_literals_are_accepted(tmp_path):
    path = write_config(tmp_path, "CreatedDate > last_n_days:30")
    (spec,) = load_catalogue(["Task"], path)
    assert spec.where == "CreatedDate > LAST_N_DAYS:30"


# ------------------------------------------------------------------ accepted, normalised

# (condition, normalised, demo object it runs on or None: a feature the demo org lacks)
ACCEPTED = [
    ("CreatedDate > LAST_N_DAYS:30", "CreatedDate > LAST_N_DAYS:30", "Task"),
    ("Subject = 'O\\'Brien'", "Subject = 'O\\'Brien'", "Task"),
    ("Type IN ('Call', 'Email')", "Type IN ('Call', 'Email')", "Task"),
    (
        "type in ('Call','Email') and createddate > 2025-01-01T00:00:00Z",
        "type IN ('Call', 'Email') AND createddate > 2025-01-01T00:00:00Z",
        "Task",
    ),
    (
        "(StageName = 'Closed Won' OR StageName = 'Closed Lost') AND Amount >= 1000.50",
        "(StageName = 'Closed Won' OR StageName = 'Closed Lost') AND Amount >= 1000.50",
        "Opportunity",
    ),
    (
        "Amount > 0 OR (Probability = 10 AND (IsClosed = false OR IsWon = true))",
        "Amount > 0 OR (Probability = 10 AND (IsClosed = FALSE OR IsWon = TRUE))",
        "Opportunity",
    ),
    ("NOT (IsWon = true AND Amount < -1)", "NOT (IsWon = TRUE AND Amount < -1)", "Opportunity"),
    ("not StageName = 'Closed Lost'", "NOT StageName = 'Closed Lost'", "Opportunity"),
    (
        "Amount > 0 AND (NOT StageName = 'Closed Lost')",
        "Amount > 0 AND (NOT StageName = 'Closed Lost')",
        "Opportunity",
    ),
    ("NOT (NOT IsWon = true)", "NOT (NOT IsWon = TRUE)", "Opportunity"),
    ("StageName <> 'Prospecting'", "StageName != 'Prospecting'", "Opportunity"),
    ("LeadSource NOT IN ('Web','Partner')", "LeadSource NOT IN ('Web', 'Partner')", "Opportunity"),
    (
        "CloseDate IN (2024-01-31, 2024-02-29)",
        "CloseDate IN (2024-01-31, 2024-02-29)",
        "Opportunity",
    ),
    ("CloseDate = THIS_FISCAL_YEAR", "CloseDate = THIS_FISCAL_YEAR", "Opportunity"),
    (
        "CloseDate >= 2024-01-01 AND CloseDate < next_n_quarters:2",
        "CloseDate >= 2024-01-01 AND CloseDate < NEXT_N_QUARTERS:2",
        "Opportunity",
    ),
    ("Probability > +5", "Probability > +5", "Opportunity"),
    ("((Amount > 0))", "Amount > 0", "Opportunity"),
    (
        "CreatedDate >= 2024-03-01T08:00:00.5+0100",
        "CreatedDate >= 2024-03-01T08:00:00.5+01:00",
        "Lead",
    ),
    (
        "CreatedDate = YESTERDAY OR CreatedDate = N_DAYS_AGO:7",
        "CreatedDate = YESTERDAY OR CreatedDate = N_DAYS_AGO:7",
        "Lead",
    ),
    (
        "\n  Status = 'Open'\n  AND\tConvertedDate != null\n",
        "Status = 'Open' AND ConvertedDate != NULL",
        "Lead",
    ),
    ("Name LIKE 'Acme\\_%'", "Name LIKE 'Acme\\_%'", "Account"),
    ("Name LIKE '100\\%'", "Name LIKE '100\\%'", "Account"),
    (
        "Subject = 'tab\\there \\\"quoted\\\" back\\\\slash \\u00e9 \\N'",
        "Subject = 'tab\\there \\\"quoted\\\" back\\\\slash \\u00e9 \\N'",
        "Task",
    ),
    ("Subject = 'line\nbreak'", "Subject = 'line\\nbreak'", "Task"),
    ("Subject = 'déjà vu \"x\"'", "Subject = 'déjà vu \"x\"'", "Task"),
    ("Subject < 'M'", "Subject < 'M'", "Task"),
    ("Account.Owner.Name = 'Ann'", "Account.Owner.Name = 'Ann'", None),
    (
        "Tags__c INCLUDES ('a;b', 'c') AND Tags__c EXCLUDES ('d')",
        "Tags__c INCLUDES ('a;b', 'c') AND Tags__c EXCLUDES ('d')",
        None,
    ),
    ("SBQQ__Status__c = 'Draft'", "SBQQ__Status__c = 'Draft'", None),
]


@pytest.mark.parametrize("condition, normalised, _", ACCEPTED)
def test_accepted_conditions_are_normalised(condition, normalised, _):
    assert check_filter(condition, "where") == normalised
    assert soql_filter.normalise(normalised) == normalised  # normalising is idempotent


@pytest.fixture(scope="module")
def store(small_org):
    opened = OrgStore(small_org)
    yield opened
    opened.close()


def run_on_demo(store: OrgStore, object_name: str, condition: str) -> int:
    return store.count(
        store.compile(
            f"SELECT COUNT() FROM {object_name} WHERE ({condition})", include_deleted=False
        )
    )


@pytest.mark.parametrize(
    "normalised, object_name", [(n, o) for _, n, o in ACCEPTED if o is not None]
)
def test_accepted_conditions_run_on_the_demo_org(store, normalised, object_name):
    assert run_on_demo(store, object_name, normalised) >= 0


@pytest.mark.parametrize(
    "literal", sorted(soql_filter.DATE_LITERALS) + sorted(soql_filter.DATE_LITERALS_N)
)
def test_every_date_literal_is_accepted_and_runs_on_date_and_datetime_fields(store, literal):
    value = f"{literal}:3" if literal in soql_filter.DATE_LITERALS_N else literal
    condition = check_filter(f"CloseDate = {value} OR CreatedDate < {value.lower()}", "where")
    assert condition == f"CloseDate = {value} OR CreatedDate < {value}"
    assert run_on_demo(store, "Opportunity", condition) >= 0


def test_the_demo_org_knows_the_same_date_literals():
    assert demo_soql.DATE_LITERALS == soql_filter.DATE_LITERALS
    assert demo_soql.DATE_LITERALS_N == soql_filter.DATE_LITERALS_N
    assert len(soql_filter.DATE_LITERALS | soql_filter.DATE_LITERALS_N) == 44


def test_demo_date_literal_ranges():
    wednesday = date(2025, 5, 14)
    span = demo_soql.date_literal_range
    assert span("TODAY", None, wednesday) == (wednesday, date(2025, 5, 15))
    assert span("YESTERDAY", None, wednesday) == (date(2025, 5, 13), wednesday)
    assert span("LAST_N_DAYS", 1, wednesday) == (date(2025, 5, 13), date(2025, 5, 15))
    assert span("LAST_90_DAYS", None, wednesday) == span("LAST_N_DAYS", 90, wednesday)
    assert span("NEXT_N_DAYS", 2, wednesday) == (date(2025, 5, 15), date(2025, 5, 17))
    assert span("THIS_WEEK", None, wednesday) == (date(2025, 5, 11), date(2025, 5, 18))  # Sunday
    assert span("LAST_N_MONTHS", 2, wednesday) == (date(2025, 3, 1), date(2025, 5, 1))
    assert span("N_QUARTERS_AGO", 2, wednesday) == (date(2024, 10, 1), date(2025, 1, 1))
    assert span("NEXT_FISCAL_YEAR", None, wednesday) == (date(2026, 1, 1), date(2027, 1, 1))


def test_the_demo_org_decodes_escapes_and_refuses_bad_ones(store):
    assert run_on_demo(store, "Account", "Name LIKE '%\\%%'") == 0  # a literal %, none has one
    assert run_on_demo(store, "Account", "Name LIKE '%'") == run_on_demo(
        store, "Account", "Name != null"
    )
    for bad in ("Name = 'a\\_b'", "Name = 'a\\qb'"):
        with pytest.raises(demo_soql.SoqlError) as caught:
            run_on_demo(store, "Account", bad)
        assert caught.value.code == "MALFORMED_QUERY"


def test_the_demo_org_answers_includes_and_excludes_on_multipicklists():
    con = duckdb.connect()
    con.execute('CREATE TABLE "W" ("Id" VARCHAR, "Tags__c" VARCHAR)')
    con.execute("""INSERT INTO "W" VALUES ('1', 'a;b;c'), ('2', 'a'), ('3', NULL), ('4', 'C;d')""")

    def ids(condition: str) -> list[str]:
        query = demo_soql.parse(f"SELECT Id FROM W WHERE {check_filter(condition, 'where')}")
        compiled = demo_soql.compile_query(
            query, "W", {"Id": "id", "Tags__c": "multipicklist"}, include_deleted=False
        )
        return [row[0] for row in con.execute(compiled.sql, compiled.params).fetchall()]

    assert ids("Tags__c INCLUDES ('a;b', 'd')") == ["1", "4"]  # a and b, or d
    assert ids("Tags__c excludes ('a')") == ["3", "4"]
    with pytest.raises(demo_soql.SoqlError, match="only valid on multipicklist"):
        demo_soql.compile_query(
            demo_soql.parse("SELECT Id FROM W WHERE Tags__c INCLUDES ('a')"),
            "W",
            {"Id": "id", "Tags__c": "picklist"},
            include_deleted=False,
        )


# ------------------------------------------------------------------ refused, at a character

# (condition, character (1-based), what the message says)
REFUSED = [
    ("Status != 'zz') OR (Status = 'zz'", 15, "this ')' closes no '('"),
    ("Subject = 'O''Brien'", 13, "written \\' in SOQL, not ''"),
    ("Status = 'x' OR Id IN (SELECT Id FROM Lead)", 24, "'SELECT' is not allowed in a filter"),
    ("Id IN (select Id FROM Lead)", 8, "'select' is not allowed in a filter"),
    ("Id = (SELECT Id FROM Lead)", 7, "'SELECT' is not allowed in a filter"),
    ("Status = 'x'; DELETE", 13, "unexpected ';'"),
    ("Status = 'x' LIMIT 1", 14, "'LIMIT' is not allowed in a filter"),
    ("Status = 'x' ORDER BY Name", 14, "'ORDER' is not allowed in a filter"),
    ("Status = 'x' GROUP BY Status", 14, "'GROUP' is not allowed in a filter"),
    ("SELECT Id FROM Lead", 1, "'SELECT' is not allowed in a filter"),
    ("a = 1 AND b = 2 OR c = 3", 17, "SOQL does not mix AND and OR"),
    ("(a = 1 OR b = 2 AND c = 3)", 17, "AND after OR needs parentheses"),
    ("a = 1 AND NOT b = 2", 11, "NOT after AND needs parentheses"),
    ("NOT a = 1 OR b = 2", 11, "NOT covers one condition"),
    ("NOT NOT a = 1", 5, "expected a field name, found 'NOT'"),
    ("(a = 1", 1, "this '(' is never closed"),
    ("(a = 1 b = 2)", 8, "expected AND, OR or ')', found 'b'"),
    ("a = 1)", 6, "this ')' closes no '('"),
    (")a = 1(", 1, "this ')' closes no '('"),
    ("()", 2, "empty parentheses"),
    ("a = 1 AND ()", 12, "empty parentheses"),
    ("Name = 'abc", 8, "the string that starts here is not closed"),
    ("Name = 'a\\qb'", 10, "backslash before 'q' is not a SOQL escape"),
    ("Name = 'ab\\", 11, "backslash before the end of the condition"),
    ("Name = 'a\\_b'", 10, "\\_ and \\% are escapes of LIKE patterns only"),
    ("Name IN ('a', 'b\\%')", 17, "\\_ and \\% are escapes of LIKE patterns only"),
    ("Name = '\\u12'", 9, "'\\u' needs four hex digits"),
    ("Name = '\\ud800'", 9, "is not a character"),
    ("Name = 'bell\x07'", 13, "character U+0007 inside a string"),
    ("Status = Open", 10, "strings go in single quotes: 'Open'"),
    ('Name = "x"', 8, "SOQL strings go in single quotes"),
    ("Id = :recordId", 6, "bind variables (:name) are Apex only"),
    ("CALENDAR_YEAR(CreatedDate) = 2024", 1, "functions such as CALENDAR_YEAR()"),
    ("CreatedDate > 2024-01-01T00:00:00", 15, "a datetime is written YYYY-MM-DDThh:mm:ss"),
    ("CreatedDate > 2024-01-01T00:00:00.1234Z", 15, "a datetime is written"),
    ("CreatedDate > 2024-01-01T25:00:00Z", 15, "is not a valid datetime"),
    ("CloseDate = 2023-02-29", 13, "2023-02-29 is not a valid date"),
    ("CreatedDate = LAST_N_DAYS", 15, "LAST_N_DAYS needs a number"),
    ("CreatedDate = TODAY:1", 15, "TODAY takes no number"),
    ("CreatedDate = LAST_N_FORTNIGHTS:2", 15, "is not a date literal"),
    ("CreatedDate = LAST_N_DAYS: 30", 26, "needs a whole number"),
    ("CreatedDate = LAST_N_DAYS:-3", 26, "needs a whole number"),
    ("LAST_N_DAYS:3 = CreatedDate", 1, "expected a field name"),
    ("IsWon > true", 9, "TRUE can only be compared with = or !="),
    ("Amount < null", 10, "NULL can only be compared with = or !="),
    ("Name IN ('a', 1)", 15, "a list mixes values of different kinds"),
    ("Name IN ()", 10, "IN needs at least one value"),
    ("Name IN 'a'", 9, "IN needs a list in parentheses"),
    ("Name IN ('a', null)", 15, "NULL is not allowed in an IN list"),
    ("CloseDate IN (TODAY)", 15, "TODAY is not allowed in an IN list"),
    ("Name IN ('a' 'b')", 14, "expected ',' or ')' in the list"),
    ("Name IN ('a',", 9, "this '(' is never closed"),
    ("Tags__c INCLUDES (1)", 19, "INCLUDES takes strings only"),
    ("Tags__c EXCLUDES 'a'", 18, "EXCLUDES needs a list in parentheses"),
    ("Name NOT LIKE 'x%'", 6, "NOT after a field can only be NOT IN"),
    ("Name LIKE 5", 11, "LIKE needs a string pattern"),
    ("Account..Name = 'x'", 8, "a field path has a name after each '.'"),
    ("Account. Name = 'x'", 8, "a field path has a name after each '.'"),
    ("Name__ = 'x'", 1, "'Name__' is not a valid Salesforce API name"),
    ("Account.Bad__ = 'x'", 9, "'Bad__' is not a valid Salesforce API name"),
    ("Amount = 5abc", 10, "malformed number or date"),
    ("Amount = 1.", 10, "malformed number or date"),
    ("= 'x'", 1, "expected a field name, found '='"),
    ("AND = 1", 1, "expected a field name, found 'AND'"),
    ("Name = 'x' AND", 15, "expected a field name, found the end of the condition"),
    ("Name", 5, "expected an operator after Name"),
    ("Name == 'x'", 7, "expected a value after '=', found '='"),
    ("Name = 'x' Name = 'y'", 12, "expected AND, OR or the end, found 'Name'"),
    ("Name = 'x'\u00a0AND b = 1", 11, "unexpected character U+00A0"),
    ("(" * 60 + "a = 1" + ")" * 60, 52, "parentheses nested too deep"),
]


@pytest.mark.parametrize("condition, character, problem", REFUSED)
def test_refused_conditions_name_the_character_and_the_problem(condition, character, problem):
    with pytest.raises(soql_filter.FilterError) as caught:
        soql_filter.parse(condition)
    assert (caught.value.position + 1, problem) == (character, problem)
    assert problem in caught.value.problem


@pytest.mark.parametrize("condition", ["", "   ", "\n\t", None, 5, ["a = 1"]])
def test_empty_or_non_text_filters_are_refused(condition):
    with pytest.raises(CatalogueError, match="must be a non-empty SOQL condition"):
        check_filter(condition, "where")


def test_a_refusal_is_one_line_with_control_characters_escaped(tmp_path):
    message = refusal(tmp_path, "Status = 'Open'\nAND\tOwnerId = :me")
    assert "\n" not in message and "\t" not in message
    assert (
        "objects[1] (Task): where \"Status = 'Open'\\nAND\\tOwnerId = :me\": at character 31: "
        "bind variables" in message
    )
    assert "\\u2028" in str(pytest.raises(CatalogueError, check_filter, "a = 1\u2028;", "w").value)


# ------------------------------------------------------------------ end to end over HTTPS


def test_a_filter_with_a_date_literal_and_escapes_syncs_the_right_records(small_org, tmp_path):
    path = write_config(
        tmp_path,
        "(Subject = 'O\\'Brien call' OR Subject LIKE 'O\\_Brien%')\n"
        "AND ActivityDate = LAST_N_DAYS:30",
    )
    (spec,) = load_catalogue(["Task"], path)
    assert spec.where == (
        "(Subject = 'O\\'Brien call' OR Subject LIKE 'O\\_Brien%') "
        "AND ActivityDate = LAST_N_DAYS:30"
    )

    with DemoOrgServer(small_org, work_dir=tmp_path / "tls") as server:
        today = server.store.clock.date()  # date literals count from the org's own today

        def task(subject: str, days_from_today: int) -> dict:
            return {
                "Subject": subject,
                "Type": "Call",
                "Status": "Completed",
                "ActivityDate": (today + timedelta(days=days_from_today)).isoformat(),
            }

        sent: list[str] = []
        compile_soql = server.store.compile

        def recording_compile(soql: str, **options):
            sent.append(soql)
            return compile_soql(soql, **options)

        server.store.compile = recording_compile
        first = server.api.apply(
            {
                "insert": {
                    "Task": [
                        task("O'Brien call", -3),  # in
                        task("O_Brien note", 0),  # in: \_ is an underscore
                        task("OxBrien note", -1),  # out: _ would have matched any character
                        task("O'Brien call", -45),  # out: before the last 30 days
                        task("O'Brien call", 2),  # out: in the future
                        task("O\\'Brien call", -1),  # out: a backslash is not in the name
                        task("o'brien CALL", -2),  # in: SOQL's = ignores case
                    ]
                }
            }
        )["inserted"]["Task"]
        client = SalesforceClient(
            SalesforceSettings.from_env(server.environment()), on_retry=lambda message: None
        )
        con = connect(tmp_path / "warehouse.duckdb")
        try:
            result = sync_object(client, con, spec)
            assert result.status == "synced"
            stored = {r[0] for r in con.execute('SELECT Id FROM raw."Task"').fetchall()}
            assert stored == {first[0], first[1], first[6]}
            assert f"WHERE ({spec.where}) ORDER BY" in sent[-1]

            later = server.api.apply(
                {
                    "advance_seconds": 3600,
                    "insert": {"Task": [task("O_Brien memo", -10), task("Other call", -10)]},
                }
            )["inserted"]["Task"]
            again = sync_object(client, con, spec)
            assert again.rows_read >= 1
            stored = {r[0] for r in con.execute('SELECT Id FROM raw."Task"').fetchall()}
            assert stored == {first[0], first[1], first[6], later[0]}
            # The incremental condition stands outside the filter's parentheses.
            assert f"WHERE ({spec.where}) AND SystemModstamp >= " in sent[-1]
        finally:
            con.close()

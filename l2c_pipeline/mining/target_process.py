"""The target process file (process.yaml): loaded and validated, with errors that name the key.

reference_path:        [activity, ...]          the standard path, in order
start_activities:      [activity, ...]          steps of the path a case may start at (default: the first)
optional_activities:   [activity, ...]          steps of the path a case may skip
repeatable_activities: [activity, ...]          steps of the path that may happen again in a row
mandatory_activities:  [activity, ...]          every won deal must have them
ordering_rules:        [{first: a, then: b}]    a before b when both occur
max_occurrences:       {activity: n}            more than n times in a case is a deviation
discount_approval:     {threshold_pct: 0-100, approval_activity: activity}
payment_terms_days:    whole number of days
allowlist:             [{rule: ..., case_id: optional, reason: optional}]
monitoring:            {window_days, min_snapshots, z, min_change, kpis: {kpi: {direction, z, min_change}}}
                       the KPI drift checks (monitoring/drift.py; all optional, defaults there)
business_calendars:    {by: owner_time_zone | default | a case attribute, calendars: {value: BusinessHours name}}
                       which business hours a case's business time counts in (mining/business_hours.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..models.sql_models import catalogue_activities  # noqa: F401  (the names a process may use)
from ..monitoring.drift import Monitoring, MonitoringError, parse_monitoring
from .business_hours import CalendarRule, CalendarRuleError, parse_calendar_rule

RULES = (
    "mandatory_activities",
    "ordering_rules",
    "max_occurrences",
    "discount_approval",
    "won_without_quote",
    "contract_before_quote_acceptance",
    "target_process_fitness",
)
_KEYS = {
    "reference_path",
    "start_activities",
    "optional_activities",
    "repeatable_activities",
    "mandatory_activities",
    "ordering_rules",
    "max_occurrences",
    "discount_approval",
    "payment_terms_days",
    "allowlist",
    "monitoring",
    "business_calendars",
}


class TargetProcessError(ValueError):
    """A wrong target-process file; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class TargetProcess:
    reference_path: tuple[str, ...]
    mandatory_activities: tuple[str, ...]
    ordering_rules: tuple[tuple[str, str], ...]
    max_occurrences: dict[str, int]
    discount_threshold_pct: float
    approval_activity: str
    payment_terms_days: int
    allowlist: tuple[dict, ...] = field(default_factory=tuple)
    optional_activities: tuple[str, ...] = ()
    repeatable_activities: tuple[str, ...] = ()
    start_activities: tuple[str, ...] = ()
    monitoring: Monitoring = field(default_factory=Monitoring)
    business_calendars: CalendarRule = field(default_factory=CalendarRule)


def default_process_file() -> Path:
    configured = os.environ.get("L2C_PROCESS_FILE")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "process.yaml"


def load_target_process(
    path: Path | None = None, known_activities: set[str] | None = None
) -> TargetProcess:
    """Read and check the file; activity names are checked against `known_activities` when given
    (names starting 'Stage: ' are always accepted: orgs have their own stages)."""
    path = Path(path or default_process_file())
    configured = os.environ.get("L2C_PROCESS_FILE")
    setting = " (L2C_PROCESS_FILE)" if configured and path == Path(configured) else ""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetProcessError(f"target process file {path}{setting} does not exist") from None
    except IsADirectoryError:
        raise TargetProcessError(
            f"target process file {path}{setting} is a folder; name the file"
        ) from None
    except yaml.YAMLError as error:
        raise TargetProcessError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise TargetProcessError(
            f"{path}: expected keys such as reference_path and mandatory_activities"
        )

    def fail(key: str, problem: str) -> TargetProcessError:
        return TargetProcessError(f"{path}: key '{key}' {problem}")

    unknown = set(document) - _KEYS
    if unknown:
        raise fail(
            sorted(unknown)[0],
            f"is not a target-process setting (known: {', '.join(sorted(_KEYS))})",
        )

    def activity(value, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"must name an activity, got {value!r}")
        if (
            known_activities is not None
            and value not in known_activities
            and not value.startswith("Stage: ")
        ):
            raise fail(key, f"names the unknown activity {value!r} (see core.activity_catalogue)")
        return value

    def activities(key: str, required: bool) -> tuple[str, ...]:
        value = document.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            raise fail(key, "must be a non-empty list of activities")
        return tuple(activity(v, f"{key}[{i}]") for i, v in enumerate(value, start=1))

    reference_path = activities("reference_path", required=True)
    if len(set(reference_path)) != len(reference_path):
        raise fail("reference_path", "names an activity twice (use repeatable_activities)")
    optional = activities("optional_activities", required=False)
    repeatable = activities("repeatable_activities", required=False)
    starts = activities("start_activities", required=False) or reference_path[:1]
    for key, names in (
        ("optional_activities", optional),
        ("repeatable_activities", repeatable),
        ("start_activities", starts),
    ):
        outside = [name for name in names if name not in reference_path]
        if outside:
            raise fail(key, f"names {outside[0]!r}, which is not in reference_path")
    mandatory = activities("mandatory_activities", required=False)
    rules = []
    for index, rule in enumerate(document.get("ordering_rules") or [], start=1):
        key = f"ordering_rules[{index}]"
        if not isinstance(rule, dict) or set(rule) != {"first", "then"}:
            raise fail(key, "must have exactly 'first' and 'then'")
        rules.append(
            (activity(rule["first"], f"{key}.first"), activity(rule["then"], f"{key}.then"))
        )
    occurrences = {}
    for name, limit in (document.get("max_occurrences") or {}).items():
        activity(name, "max_occurrences")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise fail(
                f"max_occurrences.{name}", f"must be a whole number of at least 1, got {limit!r}"
            )
        occurrences[name] = limit
    approval = document.get("discount_approval") or {}
    if not isinstance(approval, dict) or set(approval) - {"threshold_pct", "approval_activity"}:
        raise fail("discount_approval", "takes threshold_pct and approval_activity")
    threshold = approval.get("threshold_pct", 20)
    if (
        not isinstance(threshold, (int, float))
        or isinstance(threshold, bool)
        or not 0 <= threshold <= 100
    ):
        raise fail(
            "discount_approval.threshold_pct", f"must be a number from 0 to 100, got {threshold!r}"
        )
    approval_activity = activity(
        approval.get("approval_activity", "Discount Approved"),
        "discount_approval.approval_activity",
    )
    terms = document.get("payment_terms_days", 30)
    if not isinstance(terms, int) or isinstance(terms, bool) or not 0 < terms <= 365:
        raise fail(
            "payment_terms_days", f"must be a whole number of days from 1 to 365, got {terms!r}"
        )
    allowlist = []
    for index, entry in enumerate(document.get("allowlist") or [], start=1):
        key = f"allowlist[{index}]"
        if not isinstance(entry, dict) or entry.get("rule") not in RULES:
            raise fail(key, f"needs a rule, one of {', '.join(RULES)}")
        if set(entry) - {"rule", "case_id", "reason"}:
            raise fail(key, "takes rule, case_id and reason")
        allowlist.append(dict(entry))
    try:
        monitoring = parse_monitoring(document.get("monitoring"))
    except MonitoringError as error:
        raise TargetProcessError(f"{path}: {error}") from None
    try:
        business_calendars = parse_calendar_rule(document.get("business_calendars"))
    except CalendarRuleError as error:
        raise TargetProcessError(f"{path}: {error}") from None
    return TargetProcess(
        reference_path,
        mandatory,
        tuple(rules),
        occurrences,
        float(threshold),
        approval_activity,
        terms,
        tuple(allowlist),
        optional,
        repeatable,
        starts,
        monitoring,
        business_calendars,
    )


# The target process as warehouse tables, so SQL models and analysts can read it.
TARGET_PROCESS_TABLES = (
    "mining.reference_path",
    "mining.process_rules",
    "mining.compliance_allowlist",
)


def write_target_process(con, process: TargetProcess) -> dict[str, int]:
    """Replace the three target-process tables from the loaded file; returns their row counts."""
    import pandas as pd

    from ..warehouse.duckdb_warehouse import replace_table, session

    steps = pd.DataFrame(
        {
            "step": range(1, len(process.reference_path) + 1),
            "activity": list(process.reference_path),
            "is_optional": [a in process.optional_activities for a in process.reference_path],
            "is_repeatable": [a in process.repeatable_activities for a in process.reference_path],
            "is_mandatory": [a in process.mandatory_activities for a in process.reference_path],
            "is_start": [a in process.start_activities for a in process.reference_path],
        }
    )
    rules = pd.DataFrame(
        [
            *(("mandatory_activities", a, None, None) for a in process.mandatory_activities),
            *(("ordering_rules", first, then, None) for first, then in process.ordering_rules),
            *(("max_occurrences", a, None, float(n)) for a, n in process.max_occurrences.items()),
            (
                "discount_approval",
                process.approval_activity,
                None,
                process.discount_threshold_pct,
            ),
            ("payment_terms_days", None, None, float(process.payment_terms_days)),
        ],
        columns=["rule", "activity", "other_activity", "number"],
    ).astype({"activity": "string", "other_activity": "string", "number": "float64"})
    allowlist = pd.DataFrame(
        [(e["rule"], e.get("case_id"), e.get("reason")) for e in process.allowlist],
        columns=["rule", "case_id", "reason"],
    ).astype("string")
    # A cursor of its own: a caller's half-read result on `con` must not block the registration.
    con = session(con.cursor())
    con.register("_steps", steps)
    con.register("_rules", rules)
    con.register("_allowlist", allowlist)
    try:
        return {
            "mining.reference_path": replace_table(
                con,
                "mining.reference_path",
                "SELECT step::INTEGER AS step, activity::VARCHAR AS activity, is_optional, is_repeatable, "
                "is_mandatory, is_start FROM _steps",
                "The target process's reference path (process.yaml), one row per step.",
                {
                    "step": "position in the path (1 = first)",
                    "activity": "the activity of the step",
                    "is_optional": "a case may skip this step",
                    "is_repeatable": "the step may happen again in a row",
                    "is_mandatory": "every won deal must have it",
                    "is_start": "a case may start at this step (the steps before it do not apply)",
                },
            ),
            "mining.process_rules": replace_table(
                con,
                "mining.process_rules",
                "SELECT rule::VARCHAR AS rule, activity::VARCHAR AS activity, "
                "other_activity::VARCHAR AS other_activity, number::DOUBLE AS number FROM _rules",
                "The compliance rules of the target process (process.yaml), one row per rule.",
                {
                    "rule": "mandatory_activities, ordering_rules, max_occurrences, discount_approval "
                    "or payment_terms_days",
                    "activity": "the activity the rule is about (ordering_rules: the one that comes first; "
                    "discount_approval: the approval)",
                    "other_activity": "ordering_rules: the activity that must come after",
                    "number": "max_occurrences: the most times allowed; discount_approval: the "
                    "threshold %; payment_terms_days: the days",
                },
            ),
            "mining.compliance_allowlist": replace_table(
                con,
                "mining.compliance_allowlist",
                "SELECT rule::VARCHAR AS rule, case_id::VARCHAR AS case_id, reason::VARCHAR AS reason "
                "FROM _allowlist",
                "Accepted deviations (process.yaml allowlist), silenced in reports.compliance_violations.",
                {
                    "rule": "the rule whose deviations are accepted",
                    "case_id": "the one case it applies to; null for every case",
                    "reason": "why it is accepted",
                },
            ),
        }
    finally:
        for name in ("_steps", "_rules", "_allowlist"):
            con.unregister(name)
        con.close()  # the cursor, not the caller's connection

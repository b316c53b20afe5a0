"""The report's eleven questions in the explorer: each answered in the report's own sentences
(from the report tables) when no filter is set, in figures of the filtered cases otherwise,
and each with the view that shows it one click away."""

from __future__ import annotations

from ..outputs import answers
from ..outputs.html_report import QUESTIONS
from .filters import P
from .queries import rows

# Where each question's answer is in the report's data (outputs/html_report.report_data).
REPORT_KEYS = {
    "sales-cycle": "sales_cycle",
    "lead-conversion": "lead_conversion",
    "quote-to-contract": "quote_to_contract",
    "payments": "payments",
    "variation": "variation",
    "order-errors": "order_errors",
    "discounts": "discounts",
    "end-to-end": "end_to_end",
    "reps": "reps",
    "compliance": "compliance",
    "journeys": "journeys",
}
# The view that shows each question: its parameters (a filter naming an activity or attribute
# value the log does not hold is left out).
PRESETS: dict[str, list[tuple[str, str]]] = {
    "sales-cycle": [("view", "map"), ("kind", "performance"), ("attr", "outcome:won")],
    "lead-conversion": [("view", "map"), ("attr", "case_type:lead")],
    "quote-to-contract": [
        ("view", "map"),
        ("kind", "performance"),
        ("fol_a", "Quote Created"),
        ("fol_b", "Contract Signed"),
    ],
    "payments": [("view", "map"), ("kind", "performance"), ("attr", "outcome:won")],
    "variation": [("view", "variants")],
    "order-errors": [("view", "map"), ("fol_a", "Order Created"), ("fol_b", "Order Amended")],
    "discounts": [
        ("view", "compare"),
        ("attr", "discount_band:>30%"),
        ("b_attr", "discount_band:no discount"),
    ],
    "end-to-end": [("view", "map"), ("kind", "performance")],
    "reps": [("view", "stats")],
    "compliance": [("view", "map"), ("conf", "nonconformant")],
    "journeys": [("view", "variants"), ("touches", "1")],
}


def preset(question: str, activities: set[str], values: dict[str, list]) -> list[tuple[str, str]]:
    """The question's view parameters, less any filter on what this log does not hold."""
    chosen = PRESETS[question]
    if any(k.endswith(("fol_a", "fol_b")) and v not in activities for k, v in chosen):
        chosen = [(k, v) for k, v in chosen if "fol_" not in k]
    kept = []
    for key, value in chosen:
        if key.removeprefix("b_") == "attr":
            dimension, _, wanted = value.partition(":")
            if wanted not in {v for v, _ in values.get(dimension, [])}:
                continue
        kept.append((key, value))
    return kept


def report_answers(cur) -> dict[str, list[str]]:
    """Each question's sentences, as the HTML report gives them (whole log)."""
    from ..outputs.html_report import report_data

    data = report_data(cur, {})
    out = {}
    for question, key in REPORT_KEYS.items():
        part = data.get(key) or {}
        out[question] = [
            text
            for name in ("answer", "source_answer", "rework_answer")
            if (text := part.get(name))
        ]
    return out


def filtered_answers(cur, fc: str = "fc") -> dict[str, list[str]]:
    """Each question in figures of the filtered cases (mining.case_facts and the prepared tables)."""
    has_facts = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'analytics' "
        "AND schema_name = 'mining' AND table_name = 'case_facts'"
    ).fetchone()[0]
    if not has_facts:
        return {
            q: ["the published file has no mining.case_facts to answer from"] for q, _ in QUESTIONS
        }
    f = rows(
        cur,
        f"""
        WITH f AS (
            SELECT cf.* FROM mining.case_facts AS cf JOIN {P}.cases AS k USING (case_id)
            WHERE k.case_idx IN (SELECT case_idx FROM {fc})
        )
        SELECT count(*) AS cases,
               count(*) FILTER (WHERE case_type = 'lead') AS leads,
               count(*) FILTER (WHERE case_type = 'opportunity') AS opportunities,
               count(*) FILTER (WHERE is_won) AS won, count(*) FILTER (WHERE is_lost) AS lost,
               median(cycle_days) FILTER (WHERE is_won) AS cycle_days,
               avg(quote_versions) FILTER (WHERE case_type = 'opportunity') AS quotes,
               avg(approval_requests) FILTER (WHERE case_type = 'opportunity') AS approvals,
               avg((quotes_rejected > 0)::INTEGER) FILTER (WHERE quotes_presented > 0) AS rejected,
               median(epoch(first_payment_at - won_at) / 86400) FILTER (WHERE is_won) AS pay_days,
               count(*) FILTER (WHERE orders > 0) AS with_orders,
               avg((order_amendments > 0)::INTEGER) FILTER (WHERE orders > 0) AS corrected,
               avg(discount_pct) FILTER (WHERE is_won) AS won_discount,
               avg(discount_pct) FILTER (WHERE is_lost) AS lost_discount,
               avg((NOT is_conformant)::INTEGER) AS off_target
        FROM f
        """,
    )[0]
    top = rows(
        cur,
        f"""
        SELECT v.activities, count(*) AS cases, count(*) / sum(count(*)) OVER () AS share,
               count(*) OVER () AS variants
        FROM {P}.cases AS k JOIN {P}.variants AS v USING (variant_idx)
        WHERE k.case_idx IN (SELECT case_idx FROM {fc})
        GROUP BY v.activities, v.key ORDER BY cases DESC, v.key LIMIT 1
        """,
    )
    slowest = rows(
        cur,
        f"""
        WITH p AS (
            SELECT unnest(ms_pairs) AS pair, unnest(ms_waits) AS wait
            FROM {P}.cases WHERE case_idx IN (SELECT case_idx FROM {fc}) AND len(ms_pairs) > 0
        ), g AS (
            SELECT pair, median(wait) AS hours, count(*) AS transitions FROM p
            GROUP BY pair HAVING count(*) >= 20
        )
        SELECT a.activity AS from_activity, n.activity AS to_activity, g.hours, g.transitions
        FROM g JOIN {P}.activities AS a ON a.code = g.pair // 65536
        JOIN {P}.activities AS n ON n.code = g.pair % 65536
        ORDER BY g.hours DESC, g.transitions DESC, from_activity, to_activity LIMIT 1
        """,
    )
    reps = rows(
        cur,
        f"""
        SELECT cf.sales_rep, count(*) FILTER (WHERE cf.is_won) / count(*) AS win_rate, count(*) AS closed
        FROM mining.case_facts AS cf JOIN {P}.cases AS k USING (case_id)
        WHERE k.case_idx IN (SELECT case_idx FROM {fc}) AND (cf.is_won OR cf.is_lost)
          AND cf.sales_rep IS NOT NULL
        GROUP BY 1 HAVING count(*) >= ? ORDER BY win_rate DESC, sales_rep
        """,
        [answers.MIN_GROUP],
    )
    broken = rows(
        cur,
        f"SELECT rule, count(*) AS cases FROM {P}.violations "
        f"WHERE case_idx IN (SELECT case_idx FROM {fc}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3",
    )
    closed = f["won"] + f["lost"]
    won_share = answers.share(f["won"] / closed) if closed else answers.MISSING
    out = {
        "sales-cycle": [
            f"Won deals among these {f['cases']:,} cases took a median "
            f"{answers.days(f['cycle_days'])} from Opportunity Created to Closed Won "
            f"({f['won']:,} won)."
        ],
        "lead-conversion": [
            f"{f['leads']:,} of these cases are leads that never became an opportunity, "
            f"{f['opportunities']:,} are opportunities."
        ],
        "quote-to-contract": [
            f"An opportunity here has {_num(f['quotes'])} quotes and {_num(f['approvals'])} "
            f"discount approval requests on average; {answers.share(f['rejected'])} of those "
            "with a presented quote had one rejected."
        ],
        "payments": [
            f"Won deals here were first paid a median {answers.days(f['pay_days'])} after they "
            "were won."
        ],
        "variation": [
            f"{top[0]['variants']:,} variants; the most frequent covers "
            f"{answers.share(top[0]['share'])} of the cases."
            if top
            else "No cases."
        ],
        "order-errors": [
            f"{answers.share(f['corrected'])} of the {f['with_orders']:,} cases with an order had "
            "an order corrected."
        ],
        "discounts": [
            f"Won deals here were discounted {_num(f['won_discount'])}% on average, lost deals "
            f"were offered {_num(f['lost_discount'])}%; {won_share} of the closed deals were won."
        ],
        "end-to-end": [
            f"The slowest milestone transition here: {slowest[0]['from_activity']} → "
            f"{slowest[0]['to_activity']}, a median {answers.duration(slowest[0]['hours'])} "
            f"({slowest[0]['transitions']:,} times)."
            if slowest
            else "No milestone transition occurs 20 times or more in these cases."
        ],
        "reps": [
            f"Of the {len(reps)} reps with {answers.MIN_GROUP}+ closed deals here, "
            f"{reps[0]['sales_rep']} wins most ({answers.share(reps[0]['win_rate'])}), "
            f"{reps[-1]['sales_rep']} least ({answers.share(reps[-1]['win_rate'])})."
            if len(reps) >= 2
            else f"Fewer than two reps have {answers.MIN_GROUP}+ closed deals in these cases."
        ],
        "compliance": [
            f"{answers.share(f['off_target'])} of these cases are off the target process; "
            + (
                "most broken rules: "
                + ", ".join(f"{r['rule'].replace('_', ' ')} ({r['cases']:,})" for r in broken)
                + "."
                if broken
                else "no case breaks a rule."
            )
        ],
        "journeys": [
            f"The most common path here ({answers.share(top[0]['share'])}): "
            + " → ".join(top[0]["activities"])
            + "."
            if top
            else "No cases."
        ],
    }
    return out


def _num(value) -> str:
    return answers.MISSING if value is None else f"{value:,.1f}"

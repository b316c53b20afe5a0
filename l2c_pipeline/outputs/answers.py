"""The report's sentences: each question answered in words computed from the report tables.

Pure functions of table rows (dicts), so each can be tested on hand-made rows. Units as people
read them: waits over 48 hours in days, shares in %, differences of shares in percentage points.
A sentence names a group (a rep, a team, a lead source...) only when the group is large enough
for its figure to mean something (MIN_GROUP cases, MIN_APPROVALS decided approvals); when the
tables hold nothing to answer from, the sentence says so and why.
"""

from __future__ import annotations

# What a figure without a value shows (each section says why it can be empty).
MISSING = "—"
# A group is named in a sentence only over this many cases: the smallest group the root-cause
# analysis tests, too.
MIN_GROUP = 20
# A rep's approval wait is named only over this many decided approvals: a median of two or
# three waits says little.
MIN_APPROVALS = 10
# Values that name no group: an attribute the record does not carry.
UNNAMED = {"(none)", "(unknown)", "", None}

# How a root cause's outcome reads: "<n> more <outcome> than at the rest's rate".
ROOT_CAUSE_OUTCOMES = {
    "lost_deal": ("lost deals", "closed deals"),
    "slow_cycle": ("slow deals (the slowest quarter of won deals)", "won deals"),
    "non_compliant": ("won deals breaking a high-severity rule", "won deals"),
    "unapproved_discount": (
        "won deals discounted above the approval threshold without the approval",
        "won deals",
    ),
    "off_target_process": ("opportunities off the reference path", "opportunities"),
    "stage_regression": (
        "deals falling back from Proposal/Price Quote",
        "deals that reached Proposal/Price Quote",
    ),
    "quote_rejection": ("deals with a quote rejected", "deals with a presented quote"),
    "order_rework": ("deals with a corrected order", "deals with an order"),
}


def share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1%}"


def points(value: float | None) -> str:
    """A difference of two shares, in percentage points."""
    return MISSING if value is None else f"{value * 100:.1f} pp"


def duration(hours: float | None) -> str:
    """A wait in hours as people read it: hours up to 48, days beyond."""
    if hours is None:
        return MISSING
    if abs(hours) <= 48:
        return f"{hours:,.1f} h"
    return f"{hours / 24:,.1f} days"


def business_hours(hours: float | None) -> str:
    """A wait in business hours, as hours however long: a business day is as long as the org's
    hours make it, so the report never turns them into days."""
    return MISSING if hours is None else f"{hours:,.1f} h"


def days(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f} days"


def shown(value: float | None, unit: str) -> str:
    """A KPI value as people read it."""
    if value is None:
        return MISSING
    if unit == "share":
        return f"{value:.1%}"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:.1f} {unit}"


def _named(rows: list[dict], key: str = "dimension_value") -> list[dict]:
    return [r for r in rows if r.get(key) not in UNNAMED]


def sales_cycle_answer(
    cycle_days: float | None, stages: list[dict], stage_groups: list[dict]
) -> str:
    """Where opportunities stall: the median cycle, the longest stage, and the team or region
    slowest in a stage against the stage's overall median."""
    if not stages:
        return (
            "No stage durations: the event log holds no opportunity stage changes (the org "
            "records no stage history, or the log has no opportunities)."
        )
    sentence = (
        f"Won deals take a median {days(cycle_days)} from Opportunity Created to Closed Won. "
        if cycle_days is not None
        else "No deal has been won yet, so there is no cycle time. "
    )
    timed = [s for s in stages if s["median_days"] is not None]
    if not timed:
        return sentence + "No stage visit has finished yet."
    longest = max(timed, key=lambda s: (s["median_days"], s["stage"]))
    sentence += (
        f"Deals stay longest in {longest['stage']}: a median {days(longest['median_days'])} "
        f"over {longest['visits']:,} visits."
    )
    overall = {s["stage"]: s["median_days"] for s in timed}
    slow = [
        (g["median_days"] / overall[g["stage"]], g)
        for g in _named(stage_groups)
        if g["visits"] >= MIN_GROUP and g["median_days"] is not None and overall.get(g["stage"])
    ]
    if slow:
        factor, group = max(slow, key=lambda x: (x[0], x[1]["dimension_value"]))
        if factor >= 1.25:
            sentence += (
                f" {group['dimension_value']} ({group['dimension']}) is slowest in "
                f"{group['stage']}: {days(group['median_days'])} against "
                f"{days(overall[group['stage']])} overall, {factor:.1f}x."
            )
    return sentence


def funnel_answer(funnel: list[dict]) -> str:
    """How many leads become opportunities, and the step where most drop out."""
    if not funnel:
        return "No lead funnel: the event log holds no leads."
    first = funnel[0]
    opportunity = next((f for f in funnel if f["step"] == "Opportunity Created"), None)
    sentence = f"{first['entered']:,} leads were captured"
    if opportunity is not None and first["entered"]:
        sentence += (
            f"; {opportunity['entered']:,} ({share(opportunity['entered'] / first['entered'])}) "
            "became opportunities"
        )
    drops = [
        (f["entered"] - (f["converted"] or 0), f) for f in funnel if f["converted"] is not None
    ]
    if drops:
        lost, step = max(drops, key=lambda x: (x[0], -x[1]["step_order"]))
        if lost:
            sentence += (
                f". Most drop out after {step['step']}: {lost:,} of the {step['entered']:,} "
                "that reach it go no further"
            )
    return sentence + "."


def lead_source_answer(rows: list[dict]) -> str:
    """The lead source that converts least to opportunities, against the rest."""
    named = [r for r in _named(rows) if r["entered"]]
    if not rows:
        return (
            "No conversion by lead source: the report table holds no lead with a source "
            "(the org's leads carry none, or the event log has no leads)."
        )
    if len(named) < 2:
        only = named[0]["dimension_value"] if named else "none"
        return (
            f"No comparison between lead sources: the leads name one source only ({only}), "
            "so there is nothing to set its conversion against."
        )
    solid = [r for r in named if r["entered"] >= MIN_GROUP]
    if not solid:
        return (
            f"No lead source singled out: none has {MIN_GROUP} or more leads, too few to set one "
            "against the others."
        )
    weakest = min(solid, key=lambda r: (r["conversion_rate"], r["dimension_value"]))
    others = [r for r in rows if r is not weakest and r["entered"]]
    rest = sum(r["converted"] for r in others) / sum(r["entered"] for r in others)
    rates = [r["conversion_rate"] for r in others if r["dimension_value"] not in UNNAMED]
    return (
        f"{weakest['dimension_value']} leads convert least: {weakest['conversion_rate']:.0%} of "
        f"its {weakest['entered']:,} leads become opportunities, against {rest:.0%} for the "
        f"other sources ({min(rates):.0%} to {max(rates):.0%} each), "
        f"{(rest - weakest['conversion_rate']) * 100:.1f} pp less."
    )


def approval_answer(overall: dict | None, reps: list[dict]) -> str:
    """How long quotes take to a contract, and the rep whose discount approvals wait longest,
    with the factor against the other reps."""
    if overall is None:
        return (
            "No quote-to-contract figures: no case has a quote (the org records no quotes, "
            "or none was created in the period)."
        )
    contract = (
        f"Quotes take a median {days(overall['median_quote_to_contract_days'])} to a signed "
        "contract"
        if overall["median_quote_to_contract_days"] is not None
        else "No quoted case has reached a signed contract yet"
    )
    decided = [r for r in reps if r["approvals"] and r["approval_hours_vs_rest"] is not None]
    if not decided:
        return (
            f"{contract}. No discount-approval waits: no approval was decided "
            "(the org records no approval processes, or no discount needed one)."
        )
    solid = [r for r in decided if r["approvals"] >= MIN_APPROVALS]
    if not solid:
        return (
            f"{contract}. No rep has {MIN_APPROVALS} or more decided discount approvals, "
            "too few to compare approval waits between reps."
        )
    slowest = max(solid, key=lambda r: (r["approval_hours_vs_rest"], r["dimension_value"]))
    return (
        f"{contract}. Discount approvals wait longest on {slowest['dimension_value']}'s deals: "
        f"a median of {duration(slowest['median_approval_hours'])} over "
        f"{slowest['approvals']:,} approvals, {slowest['approval_hours_vs_rest']:.1f}x the "
        f"other reps' median (of reps with at least {MIN_APPROVALS} approvals)."
    )


def quote_rework_answer(overall: dict | None, families: list[dict]) -> str:
    """The rework loop: quotes per case, and the product family re-quoted most."""
    if overall is None or not overall["cases"]:
        return ""
    sentence = (
        f"{share(overall['rework_share'])} of quoted cases needed more than one quote "
        f"({overall['avg_quote_versions']:.2f} quotes per case) and "
        f"{overall['re_approval_cases']:,} needed more than one discount approval."
    )
    solid = [f for f in _named(families) if f["cases"] >= MIN_GROUP and f["rework_share"]]
    if len(solid) >= 2:
        worst = max(solid, key=lambda f: (f["rework_share"], f["dimension_value"]))
        sentence += (
            f" {worst['dimension_value']} deals are re-quoted most: {share(worst['rework_share'])}"
            f" of {worst['cases']:,} cases."
        )
    return sentence


def payment_answer(rows: list[dict]) -> str:
    """How long invoices take to be paid, DSO, and the segment, invoice type or discount band
    that pays slowest."""
    overall = next((r for r in rows if r["dimension"] == "all"), None)
    if overall is None or not overall["invoices"]:
        return "No payment figures: the event log holds no invoices (the org records no billing)."
    if overall["median_days_to_pay"] is None:
        sentence = f"None of the {overall['invoices']:,} invoices has been paid in full yet"
    else:
        sentence = (
            f"Invoices are paid a median {days(overall['median_days_to_pay'])} after they are "
            f"sent; {share(overall['late_share'])} are paid late or still open past their due date"
        )
    if overall["dso_days"] is not None:
        sentence += f", and days sales outstanding are {overall['dso_days']:,.1f}"
    sentence += "."
    groups = [
        r
        for r in _named(rows)
        if r["dimension"] in ("segment", "invoice_type", "discount_band")
        and (r["paid_invoices"] or 0) >= MIN_GROUP
        and r["median_days_to_pay"] is not None
    ]
    if groups and overall["median_days_to_pay"]:
        slowest = max(groups, key=lambda r: (r["median_days_to_pay"], r["dimension_value"]))
        sentence += (
            f" Slowest to pay: {slowest['dimension'].replace('_', ' ')} "
            f"{slowest['dimension_value']}, a median {days(slowest['median_days_to_pay'])} "
            f"({slowest['median_days_to_pay'] - overall['median_days_to_pay']:+,.1f} days against "
            "all invoices)."
        )
    return sentence


def variation_answer(variants: list[dict], groups: list[dict], noun: str) -> str:
    """How many ways the cases run, how much the most common cover, how many follow the target
    process, and the team or region that follows it least."""
    total = sum(v["cases"] for v in variants)
    if not total:
        return "No variants: the event log holds no cases."
    covered = sum(v["cases"] for v in variants[:10]) / total
    sentence = (
        f"{total:,} {noun} run through the milestones in {len(variants):,} variants; the "
        f"{min(10, len(variants))} most common cover {share(covered)} of them"
    )
    checked = [v for v in variants if v["conformant_share"] is not None]
    if checked:
        conformant = sum(v["cases"] * v["conformant_share"] for v in checked) / sum(
            v["cases"] for v in checked
        )
        fitness = sum(v["cases"] * v["mean_fitness"] for v in checked) / sum(
            v["cases"] for v in checked
        )
        sentence += (
            f"; {share(conformant)} follow the target process (mean fitness {fitness:.2f}, "
            "1 = fits)"
        )
    else:
        sentence += (
            "; conformance is not judged: no case has an activity of the target process's "
            "reference path (process.yaml)"
        )
    sentence += "."
    solid = [g for g in _named(groups) if g["opportunities"] >= MIN_GROUP]
    if len(solid) >= 2:
        least = min(solid, key=lambda g: (g["conformance_rate"], g["dimension_value"]))
        rest = [g for g in solid if g["dimension"] == least["dimension"] and g is not least]
        if rest:
            best = max(rest, key=lambda g: g["conformance_rate"])
            sentence += (
                f" {least['dimension_value']} ({least['dimension']}) follows it least: "
                f"{share(least['conformance_rate'])} of its {least['opportunities']:,} "
                f"opportunities, against up to {share(best['conformance_rate'])} "
                f"({best['dimension_value']})."
            )
    return sentence


def order_answer(rows: list[dict]) -> str:
    """How many orders are corrected, and the product family corrected most."""
    overall = next((r for r in rows if r["product_family"] == "all"), None)
    if overall is None or not overall["orders"]:
        return "No order figures: the event log holds no sales orders."
    sentence = (
        f"{share(overall['rework_rate'])} of {overall['orders']:,} orders were corrected "
        f"({overall['amendments']:,} reduction orders)"
    )
    if overall["median_days_to_amendment"] is not None:
        sentence += f", a median {days(overall['median_days_to_amendment'])} after their activation"
    sentence += "."
    families = [r for r in _named(rows, "product_family") if r["product_family"] != "all"]
    solid = [r for r in families if r["orders"] >= MIN_GROUP]
    if len(solid) >= 2:
        worst = max(solid, key=lambda r: (r["rework_rate"], r["product_family"]))
        sentence += (
            f" {worst['product_family']} orders are corrected most: {share(worst['rework_rate'])}"
            f" of {worst['orders']:,}, {points(worst['rework_rate'] - overall['rework_rate'])}"
            " above all orders."
        )
    return sentence


def discount_answer(bands: list[dict]) -> str:
    """Deep discounts against win rate and days to pay, and what the discounts gave away."""
    discounted = [b for b in bands if b["band_order"] >= 2 and b["opportunities"]]
    if not discounted:
        return "No discounts: no quoted deal carries a discount."
    given = sum(b["revenue_given_away"] or 0 for b in bands)
    won = sum(b["won_amount"] or 0 for b in bands)
    sentence = (
        f"Discounts gave away {given:,.0f} (org currency) on won deals, "
        f"{share(given / (won + given)) if won + given else MISSING} of their list price."
    )
    deepest = max(
        (b for b in discounted if (b["closed"] or 0) >= MIN_GROUP),
        key=lambda b: b["band_order"],
        default=None,
    )
    if deepest is not None:
        sentence += (
            f" Deals discounted {deepest['discount_band']} win {share(deepest['win_rate'])} of "
            f"{deepest['closed']:,} closed"
        )
        if deepest["days_to_pay_vs_rest"] is not None:
            sentence += (
                f" and are paid {abs(deepest['days_to_pay_vs_rest']):,.1f} days "
                f"{'later' if deepest['days_to_pay_vs_rest'] >= 0 else 'sooner'} than the other "
                "bands' invoices"
            )
        sentence += "."
    return sentence


def bottleneck_answer(bottlenecks: list[dict]) -> str:
    """The transitions and stages that add the most waiting beyond their typical wait."""
    if not bottlenecks:
        return (
            "No bottleneck: no transition between milestones or stages waits longer than its "
            "median."
        )
    named = []
    for b in bottlenecks[:3]:
        where = b["from_activity"] + (f" → {b['to_activity']}" if b["to_activity"] else "")
        named.append(
            f"{where} (median {duration(b['median_hours'])}, "
            f"{duration(b['added_wait_hours'])} added over {b['occurrences']:,} occurrences)"
        )
    return "The waits that add the most beyond their typical wait: " + "; ".join(named) + "."


def rep_answer(reps: list[dict]) -> str:
    """The best win rate, and the rep furthest behind the best of their team."""
    solid = [r for r in reps if (r["closed"] or 0) >= MIN_GROUP and r["win_rate"] is not None]
    if not solid:
        return f"No rep has {MIN_GROUP} or more closed deals, too few to compare win rates."
    best = max(solid, key=lambda r: (r["win_rate"], r["sales_rep"]))
    sentence = (
        f"{best['sales_rep']} ({best['team'] or 'no team'}) wins most: {share(best['win_rate'])} of "
        f"{best['closed']:,} closed deals."
    )
    behind = [r for r in solid if r["win_rate_gap_to_best"]]
    if behind:
        worst = max(behind, key=lambda r: (r["win_rate_gap_to_best"], r["sales_rep"]))
        sentence += (
            f" {worst['sales_rep']} is furthest behind their team's best: "
            f"{share(worst['win_rate'])} of {worst['closed']:,}, "
            f"{points(worst['win_rate_gap_to_best'])} below {share(worst['team_best_win_rate'])}."
        )
    return sentence


def compliance_answer(rules: list[dict], rep_cases: list[dict]) -> str:
    """How many cases break a rule, by severity, the most common high-severity rule, and the
    rep whose deals break high-severity rules most often."""
    if not rules:
        return "No case breaks a compliance rule."
    high = [r for r in rules if r["severity"] == "high"]
    if not high:
        return f"No case breaks a high-severity rule; {len(rules)} lesser rules are broken."
    top = max(high, key=lambda r: (r["cases"], r["rule"]))
    sentence = (
        f"{sum(r['cases'] for r in high):,} case-rule breaks are high severity; the most common "
        f"is {top['rule'].replace('_', ' ')} ({top['cases']:,} cases)."
    )
    solid = [r for r in rep_cases if r["opportunities"] >= MIN_GROUP and r["cases"]]
    if len(solid) >= 2:
        worst = max(solid, key=lambda r: (r["cases"] / r["opportunities"], r["sales_rep"]))
        sentence += (
            f" {worst['sales_rep']}'s deals break one most often: {worst['cases']:,} of "
            f"{worst['opportunities']:,} opportunities "
            f"({share(worst['cases'] / worst['opportunities'])})."
        )
    return sentence


def journey_answer(paths: list[dict], steps: list[dict]) -> str:
    """The most common milestone path, and the most common detour."""
    if not paths:
        return "No customer journeys: the event log holds no milestone events."
    top = paths[0]
    covered = sum(p["share"] for p in paths)
    sentence = (
        f"The most common path, {share(top['share'])} of cases ({top['cases']:,}), is "
        f"{top['pattern']}; the {len(paths)} most common paths cover {share(covered)} of cases."
    )
    detours = [s for s in steps if s["journey_type"] == "detour"]
    if detours:
        d = detours[0]
        sentence += (
            f" The most common detour, {d['pattern']}, happens in {d['cases']:,} cases "
            f"({share(d['share'])} of those reaching its first step)."
        )
    else:
        sentence += " No case steps back to an earlier step of the reference path."
    return sentence


def root_cause_sentence(row: dict) -> str:
    """A finding, its impact first: how many more cases have the outcome than the rest's rate
    would give, then the rates behind it."""
    outcome, population = ROOT_CAUSE_OUTCOMES.get(
        row["kpi"], (row["kpi"].replace("_", " "), "cases")
    )
    attribute = row["attribute"].replace("_", " ")
    q = row.get("q_value")
    certainty = "" if q is None else (" (q < 0.001)" if q < 0.001 else f" (q = {q:.3f})")
    return (
        f"{row['value']} ({attribute}): {row['excess_cases']:,.0f} more {outcome} than at the "
        f"rest's rate, {share(row['kpi_value'])} of {row['cases']:,} {population} against "
        f"{share(row['baseline'])}{certainty}."
    )


def loss_answer(overall: list[dict], groups: list[dict]) -> str:
    """The most common loss reason, and the group whose lost deals give one reason far more
    often than the rest's (the largest excess of lost deals with that reason)."""
    if not overall:
        return ""
    top = max(overall, key=lambda r: (r["share"], r["loss_reason"]))
    sentence = (
        f"Lost deals most often give {top['loss_reason']} as the reason ({share(top['share'])})."
    )
    solid = [
        g
        for g in _named(groups)
        if g["group_lost_deals"] >= MIN_GROUP
        and g["rest_share"] is not None
        and g["loss_reason"] != "(none given)"
    ]
    if solid:
        g = max(
            solid,
            key=lambda g: (
                g["group_lost_deals"] * (g["share"] - g["rest_share"]),
                g["dimension_value"],
            ),
        )
        if g["share"] > g["rest_share"]:
            sentence += (
                f" {g['dimension_value']} ({g['dimension'].replace('_', ' ')}) deals give "
                f"{g['loss_reason']} far more often: {share(g['share'])} of its "
                f"{g['group_lost_deals']:,} lost deals, against {share(g['rest_share'])} for the rest."
            )
    return sentence

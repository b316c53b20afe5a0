"""reports.root_causes: p-values, minimum support and Benjamini-Hochberg FDR control.

The checks on the truth warehouse recompute p-values and q-values independently of the SQL; the
synthetic checks run the model's SQL on small made-up orgs (the three tables it reads), where
whether an attribute matters is known: pure noise, one planted effect, one tiny group.
"""

from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pytest

from l2c_pipeline.models.sql_models import discover

MODEL = discover()[("reports", "root_causes")]
SETTINGS = re.search(
    r"SELECT (\d+) AS min_cases, (\d+) AS min_hits, ([\d.]+) AS fdr_q", MODEL.sql
).groups()
MIN_CASES, MIN_HITS, FDR_Q = int(SETTINGS[0]), int(SETTINGS[1]), float(SETTINGS[2])

try:
    from scipy.stats import norm

    def upper_tail(z: float) -> float:
        return float(norm.sf(z))

except ImportError:  # pragma: no cover - scipy comes with pm4py

    def upper_tail(z: float) -> float:
        return 0.5 * math.erfc(z / math.sqrt(2))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values, written from the definition: q_(i) = min_{j >= i} p_(j) m / j."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def test_the_constants_are_the_documented_ones():
    assert (MIN_CASES, MIN_HITS, FDR_Q) == (20, 5, 0.05)
    header = MODEL.description + " " + " ".join(MODEL.column_comments.values())
    assert "min_cases = 20" in header and "min_hits = 5" in header and "q = 0.05" in header


def test_p_and_q_values_match_an_independent_computation(tables):
    rows = tables.execute(
        "SELECT kpi, attribute, value, cases, hits, kpi_value, baseline, excess_cases, z_score, "
        "p_value, q_value, survives_fdr, is_root_cause, confidence, rank_in_kpi "
        "FROM reports.root_causes"
    ).fetchall()
    assert len(rows) > 300  # hundreds of groups in one refresh, all KPIs together
    z = np.array([r[8] for r in rows], dtype=float)
    p = np.array([r[9] for r in rows], dtype=float)
    expected_p = np.array([upper_tail(v) for v in z])
    np.testing.assert_allclose(p, expected_p, rtol=1e-6, atol=1e-9)

    tested = np.array([r[3] >= MIN_CASES and r[9] is not None for r in rows])
    q = np.array([np.nan if r[10] is None else r[10] for r in rows], dtype=float)
    assert np.isnan(q[~tested]).all()
    # BH within each KPI at q / K (K: KPIs with a tested group), as q-values scaled by K.
    kpis = np.array([r[0] for r in rows])
    tested_kpis = sorted(set(kpis[tested]))
    expected_q = np.full(len(rows), np.nan)
    for kpi in tested_kpis:
        of_kpi = tested & (kpis == kpi)
        expected_q[of_kpi] = np.minimum(1.0, len(tested_kpis) * benjamini_hochberg(p[of_kpi]))
    np.testing.assert_allclose(q[tested], expected_q[tested], rtol=1e-9, atol=1e-15)
    # Monotone within a KPI: a smaller p-value never gets a larger q-value.
    for kpi in tested_kpis:
        of_kpi = tested & (kpis == kpi)
        by_p = np.argsort(p[of_kpi], kind="stable")
        assert (np.diff(q[of_kpi][by_p]) >= -1e-15).all()

    for r in rows:
        kpi, _, _, cases, hits, rate, baseline, excess, _, _, q_value, survives, cause, conf, _ = r
        assert survives == (q_value is not None and q_value <= FDR_Q)
        assert cause == (survives and rate > baseline and cases >= MIN_CASES and hits >= MIN_HITS)
        assert excess == pytest.approx(cases * (rate - baseline))
        assert (conf != "low") == cause
    assert 0 < sum(r[12] for r in rows) < sum(r[11] or r[9] < FDR_Q for r in rows)


def test_root_causes_rank_first_by_excess_cases(tables):
    for (kpi,) in tables.execute("SELECT DISTINCT kpi FROM reports.root_causes").fetchall():
        ranked = tables.execute(
            "SELECT is_root_cause, excess_cases, rank_in_kpi FROM reports.root_causes "
            "WHERE kpi = ? ORDER BY rank_in_kpi",
            [kpi],
        ).fetchall()
        assert [r[2] for r in ranked] == list(range(1, len(ranked) + 1))
        flags = [r[0] for r in ranked]
        assert flags == sorted(flags, reverse=True)  # root causes before the rest
        causes = [r[1] for r in ranked if r[0]]
        assert causes == sorted(causes, reverse=True)


# A small org: 400 opportunities, 8 attributes with 3 to 10 values, outcomes drawn at random.
OPPORTUNITIES = 400
VALUES_PER_ATTRIBUTE = (3, 4, 5, 6, 7, 8, 9, 10)

SYNTHETIC_ORG = """
CREATE OR REPLACE TEMP MACRO u(i, salt) AS (hash($seed, i, salt) % 1000003) / 1000003.0;
CREATE OR REPLACE TABLE synthetic AS
WITH cases AS (
    SELECT i, 'opp-' || i AS case_id,
           -- the planted group: attr_1 = 'v0' (a quarter of the cases) leaves the reference path
           -- twice as often as the rest
           $planted AND floor(u(i, 'attr_1') * 4) = 0 AS planted,
           -- the tiny group: four cases, all of them regressing from Proposal
           $tiny AND i < 4 AS tiny
    FROM range($opportunities) AS r(i)
)
SELECT *,
       tiny OR u(i, 'closed') < 0.8 AS is_closed,
       u(i, 'lost') < 0.3 AS lost_draw
FROM cases;
CREATE OR REPLACE TABLE mining.case_facts AS
SELECT case_id, 'opportunity' AS case_type, is_closed,
       is_closed AND lost_draw AS is_lost,
       is_closed AND NOT lost_draw AS is_won,
       10 + floor(u(i, 'cycle') * 200) AS cycle_days,
       u(i, 'conformant') >= CASE WHEN planted THEN 0.6 ELSE 0.3 END AS is_conformant,
       tiny OR u(i, 'proposal') < 0.6 AS reached_proposal,
       CASE WHEN tiny OR u(i, 'regression') < 0.1 THEN 1 ELSE 0 END AS stage_regressions,
       CASE WHEN u(i, 'presented') < 0.7 THEN 1 ELSE 0 END AS quotes_presented,
       CASE WHEN u(i, 'rejected') < 0.3 THEN 1 ELSE 0 END AS quotes_rejected,
       CASE WHEN is_closed AND NOT lost_draw THEN 1 ELSE 0 END AS orders,
       CASE WHEN u(i, 'amended') < 0.25 THEN 1 ELSE 0 END AS order_amendments,
       -- deal size and discount band as the case started: none here (the attr_k cut the cases)
       NULL::VARCHAR AS list_deal_size, NULL::VARCHAR AS first_discount_band
FROM synthetic;
CREATE OR REPLACE TABLE mining.case_dimensions AS
SELECT case_id, 'attr_' || a.k AS dimension,
       'v' || CASE WHEN a.k = 1 AND planted THEN 0
                   ELSE floor(u(i, 'attr_' || a.k) * a.n)::INT END AS dimension_value
FROM synthetic
CROSS JOIN (VALUES $values) AS a(k, n)
UNION ALL
-- the tiny group is a value of an attribute every case has: its rest is the other value
SELECT case_id, 'tiny', CASE WHEN tiny THEN 'x' ELSE 'y' END FROM synthetic WHERE $tiny;
CREATE OR REPLACE TABLE reports.compliance_violations AS
SELECT case_id, 'high' AS severity,
       CASE WHEN u(i, 'unapproved') < 0.3 THEN 'discount_approval' ELSE 'mandatory_activities' END AS rule
FROM synthetic WHERE u(i, 'violation') < 0.15;
"""


@pytest.fixture(scope="module")
def synthetic():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mining; CREATE SCHEMA reports")

    def root_causes(seed: int, planted: bool = False, tiny: bool = False) -> list[dict]:
        script = (
            SYNTHETIC_ORG.replace("$seed", str(seed))
            .replace("$planted", str(planted).lower())
            .replace("$tiny", str(tiny).lower())
            .replace("$opportunities", str(OPPORTUNITIES))
            .replace(
                "$values", ", ".join(f"({k}, {n})" for k, n in enumerate(VALUES_PER_ATTRIBUTE))
            )
        )
        con.execute(script)
        cursor = con.execute(MODEL.sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    yield root_causes
    con.close()


def test_the_synthetic_org_is_shaped_like_a_small_org(synthetic):
    rows = synthetic(0)
    assert {r["attribute"] for r in rows} == {f"attr_{k}" for k in range(8)}
    assert len({r["kpi"] for r in rows}) == 8
    assert len(rows) > 300  # hundreds of groups tested


def test_pure_noise_reports_no_root_cause_in_at_least_95_of_100_refreshes(synthetic):
    with_findings = [
        seed for seed in range(100) if any(r["is_root_cause"] for r in synthetic(seed))
    ]
    assert len(with_findings) <= 5, with_findings


def test_a_planted_effect_survives(synthetic):
    # Twice the rest's rate over about 100 cases (z near 5): found in nearly every refresh, and
    # then the strongest root cause of its KPI.
    found = 0
    for seed in range(20):
        rows = synthetic(seed, planted=True)
        key = ("off_target_process", "attr_1", "v0")
        planted = next(r for r in rows if (r["kpi"], r["attribute"], r["value"]) == key)
        assert 80 <= planted["cases"] <= 130
        if planted["is_root_cause"]:
            found += 1
            assert planted["survives_fdr"] and planted["rank_in_kpi"] == 1, seed
    assert found >= 18


def test_a_tiny_group_is_never_a_root_cause(synthetic):
    for seed in range(10):
        rows = synthetic(seed, tiny=True)
        tiny = next(r for r in rows if r["kpi"] == "stage_regression" and r["attribute"] == "tiny")
        assert (tiny["cases"], tiny["hits"]) == (4, 4)
        # Its p-value alone would pass any threshold the FDR control could set.
        assert tiny["p_value"] < FDR_Q / len(rows)
        assert tiny["q_value"] is None and not tiny["survives_fdr"] and not tiny["is_root_cause"]
        assert tiny["confidence"] == "low"

"""KPI drift checks (monitoring/drift.py): the rule on synthetic kpi_history rows, process.yaml's
monitoring key, and the kpi_history asset whose checks and reports.kpi_alerts come from one
evaluation."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from l2c_pipeline.mining.assets import kpi_history
from l2c_pipeline.mining.target_process import TargetProcessError, load_target_process
from l2c_pipeline.monitoring.drift import (
    DEFAULT_DIRECTIONS,
    KPIS,
    SEGMENT_KPIS,
    Monitoring,
    Snapshot,
    evaluate_drift,
    evaluate_kpi,
    evaluate_segments,
    segment_z,
)
from l2c_pipeline.resources import WarehouseResource
from l2c_pipeline.warehouse.duckdb_warehouse import connect, connect_read_only

ROOT = Path(__file__).resolve().parents[1]
START = date(2026, 1, 1)
# The rule itself, every KPI judged on the values given (the trailing windows: below).
DEFAULTS = Monitoring(recent_days=0)


def share_history(p_by_night, cases, seed=7, kpi="win_rate"):
    """A share KPI over `cases` cases each night, drawn with its binomial noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for night, p in enumerate(p_by_night):
        value = rng.binomial(cases, p) / cases
        se = math.sqrt(value * (1 - value) / cases)
        rows.append(Snapshot(START + timedelta(days=night), kpi, value, cases, se))
    return rows


def nights(rows):
    return sorted({row.snapshot_date for row in rows})


def test_a_stable_kpi_with_its_noise_never_warns_over_60_nights():
    rows = share_history([0.30] * 60, cases=2000)
    results = [evaluate_kpi("win_rate", day, rows, DEFAULTS) for day in nights(rows)]
    assert not [r for r in results if not r.passed]
    # The first 7 nights have too little history; every later one was compared.
    assert sum(r.baseline is not None for r in results) == 60 - 7
    assert "too little history" in results[3].status and results[3].snapshots == 3
    assert max(abs(r.z) for r in results if r.z is not None) < 4


def test_a_stable_noisy_kpi_for_every_direction_and_size_stays_quiet():
    # Nine KPIs x 60 nights, each with the noise its own case count gives it.
    for index, kpi in enumerate(KPIS):
        cases = [40, 400, 4000][index % 3]
        rows = share_history([0.4] * 60, cases=cases, seed=100 + index, kpi=kpi)
        results = [evaluate_kpi(kpi, day, rows, DEFAULTS) for day in nights(rows)]
        assert all(r.passed for r in results), kpi


def test_a_fall_in_win_rate_warns_with_its_figures():
    rows = share_history([0.30] * 40 + [0.22] * 5, cases=2000)
    day = nights(rows)[40]
    result = evaluate_kpi("win_rate", day, rows, DEFAULTS)
    window = [r for r in rows if day - timedelta(days=28) <= r.snapshot_date < day]
    baseline = float(np.median([r.value for r in window]))
    today = rows[40]
    expected_z = (baseline - today.value) / math.sqrt(
        today.standard_error**2 + float(np.median([r.standard_error for r in window])) ** 2
    )
    assert not result.passed
    assert result.baseline == pytest.approx(baseline)
    assert result.value == today.value and result.cases == 2000 and result.snapshots == 28
    assert result.change == pytest.approx(today.value - baseline)
    assert result.z == pytest.approx(expected_z) and result.z > 4
    assert result.relative_change < -0.2
    assert "fell at least 4 standard errors" in result.rule
    # The same fall is an improvement for a KPI where lower is better: no warning.
    lower = Monitoring(overrides={"win_rate": {"direction": "lower_is_better"}})
    assert evaluate_kpi("win_rate", day, rows, lower).passed


def test_the_same_relative_move_warns_over_4000_cases_but_not_over_40():
    def moved(cases):
        rows = [
            Snapshot(START + timedelta(days=n), "win_rate", 0.30, cases, math.sqrt(0.21 / cases))
            for n in range(20)
        ]
        value = 0.30 * 0.85  # 15% worse
        today = Snapshot(START + timedelta(days=20), "win_rate", value, cases,
                         math.sqrt(value * (1 - value) / cases))  # fmt: skip
        return evaluate_kpi("win_rate", today.snapshot_date, [*rows, today], DEFAULTS)

    small, large = moved(40), moved(4000)
    assert small.passed and large.relative_change == pytest.approx(-0.15)
    assert small.z == pytest.approx(0.045 / math.sqrt(0.255 * 0.745 / 40 + 0.21 / 40))
    assert small.z < 1
    assert not large.passed
    assert large.z == pytest.approx(0.045 / math.sqrt(0.255 * 0.745 / 4000 + 0.21 / 4000))
    assert large.z > 4


def test_a_significant_but_tiny_move_does_not_warn():
    # Over a million cases a 1% fall is many standard errors, but under min_change (5%).
    cases = 1_000_000
    rows = [
        Snapshot(START + timedelta(days=n), "win_rate", 0.30, cases, math.sqrt(0.21 / cases))
        for n in range(10)
    ]
    rows.append(Snapshot(START + timedelta(days=10), "win_rate", 0.297, cases, 0.000457))
    result = evaluate_kpi("win_rate", START + timedelta(days=10), rows, DEFAULTS)
    assert result.z > 4 and result.passed


def test_old_snapshots_without_standard_errors_still_give_a_baseline():
    rows = [Snapshot(START + timedelta(days=n), "sales_cycle_time", 30.0) for n in range(10)]
    rows.append(Snapshot(START + timedelta(days=10), "sales_cycle_time", 40.0, 900, 1.0))
    result = evaluate_kpi("sales_cycle_time", START + timedelta(days=10), rows, DEFAULTS)
    # Today's error stands in for the baseline's: z = 10 / sqrt(2).
    assert not result.passed and result.z == pytest.approx(10 / math.sqrt(2))
    # Without today's error either, the noise is unknown: passes and says so.
    rows[-1] = Snapshot(START + timedelta(days=10), "sales_cycle_time", 40.0, 1, None)
    result = evaluate_kpi("sales_cycle_time", START + timedelta(days=10), rows, DEFAULTS)
    assert result.passed and "standard error" in result.status


def test_every_kpi_has_a_default_direction():
    assert DEFAULT_DIRECTIONS == {
        "sales_cycle_time": "lower_is_better",
        "lead_to_opportunity_conversion": "higher_is_better",
        "win_rate": "higher_is_better",
        "quote_to_contract_time": "lower_is_better",
        "invoice_to_payment_time": "lower_is_better",
        "days_sales_outstanding": "lower_is_better",
        "order_rework_rate": "lower_is_better",
        "conformance_rate": "higher_is_better",
        "average_discount": "lower_is_better",
        "discount_approval_time": "lower_is_better",
    }
    shipped = load_target_process(ROOT / "process.yaml").monitoring
    assert (shipped.window_days, shipped.min_snapshots, shipped.z, shipped.min_change) == (
        28,
        7,
        4.0,
        0.05,
    )
    assert (shipped.recent_days, shipped.min_recent_cases) == (7, 30)
    assert replace(shipped, overrides={}) == Monitoring()  # the file says what the code assumes
    assert {kpi: shipped.rule(kpi).direction for kpi in KPIS} == dict(DEFAULT_DIRECTIONS)


@pytest.mark.parametrize(
    ("monitoring", "message"),
    [
        ({"windows": 3}, "key 'monitoring.windows' is not a monitoring setting"),
        ({"window_days": 0}, "key 'monitoring.window_days' must be a whole number of at least 1, got 0"),
        ({"window_days": 5, "min_snapshots": 7}, "'monitoring.min_snapshots' (7) cannot exceed"),
        ({"z": -1}, "key 'monitoring.z' must be a number above 0, got -1"),
        ({"min_change": "5%"}, "key 'monitoring.min_change' must be a number of at least 0, got '5%'"),
        ({"kpis": {"win_rat": {}}}, "key 'monitoring.kpis.win_rat' names no KPI of reports.kpi_summary"),
        (
            {"kpis": {"win_rate": {"direction": "up"}}},
            "key 'monitoring.kpis.win_rate.direction' must be higher_is_better or lower_is_better, got 'up'",
        ),
        ({"kpis": {"win_rate": {"sigma": 3}}}, "key 'monitoring.kpis.win_rate' takes direction, z and min_change"),
        ([1, 2], "key 'monitoring' must be a mapping"),
        ({"segments": ["country"]}, "key 'monitoring.segments' must be a list of region, team"),
        ({"min_segment_cases": 1}, "key 'monitoring.min_segment_cases' must be a whole number of at least 2"),
    ],
)  # fmt: skip
def test_wrong_monitoring_settings_are_one_line_naming_the_key(tmp_path, monitoring, message):
    document = yaml.safe_load((ROOT / "process.yaml").read_text())
    document["monitoring"] = monitoring
    path = tmp_path / "process.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(TargetProcessError) as raised:
        load_target_process(path)
    assert message in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------------------------------------
# The asset: checks and reports.kpi_alerts from one evaluation


def segment_history(p_by_segment, cases, nights_count, seed, kpi="win_rate", drift=None):
    """A share KPI per segment each night with its binomial noise; drift = (segment, from
    night, p) changes one segment's p from that night on. The whole org's rows too."""
    rng = np.random.default_rng(seed)
    rows = []
    for night in range(nights_count):
        day, total_k, total_n = START + timedelta(days=night), 0, 0
        for segment, p in p_by_segment.items():
            if drift and segment == drift[0] and night >= drift[1]:
                p = drift[2]
            k = rng.binomial(cases, p)
            value = k / cases
            se = math.sqrt(value * (1 - value) / cases)
            rows.append(Snapshot(day, kpi, value, cases, se, segment=segment))
            total_k, total_n = total_k + k, total_n + cases
        value = total_k / total_n
        rows.append(Snapshot(day, kpi, value, total_n, math.sqrt(value * (1 - value) / total_n)))
    return rows


REGIONS = {f"region={r}": 0.30 for r in ("APAC", "EMEA", "LATAM", "North America")}
TEAMS = {f"team=Team {i}": 0.30 for i in range(8)}


def test_the_segment_threshold_keeps_the_org_checks_false_alarm_rate():
    normal = __import__("statistics").NormalDist()
    assert segment_z(4.0, 1) == 4.0
    assert segment_z(4.0, 12) == pytest.approx(4.55, abs=0.01)
    for tests in (2, 12, 40):
        assert 1 - normal.cdf(segment_z(4.0, tests)) == pytest.approx((1 - normal.cdf(4)) / tests)


def test_one_region_drifting_warns_naming_it_while_the_whole_org_holds():
    rows = segment_history(REGIONS | TEAMS, cases=800, nights_count=45, seed=3,
                           drift=("region=EMEA", 40, 0.18))  # fmt: skip
    day = START + timedelta(days=40)
    org = evaluate_kpi("win_rate", day, rows, DEFAULTS)
    (check,) = evaluate_segments(day, rows, DEFAULTS, kpis=["win_rate"])
    # The regions are a quarter of the org: its rate falls by 0.03, within its noise.
    assert org.passed and org.value == pytest.approx(0.27, abs=0.02)
    assert not check.passed and len(check.results) == 12
    assert [r.segment for r in check.warnings] == ["region=EMEA"]
    warning = check.warnings[0]
    assert warning.z > segment_z(4.0, 12) and warning.value == pytest.approx(0.18, abs=0.03)
    assert "region=EMEA" in check.status and "1 of 12 segments" in check.status
    assert check.metadata()["segment"] == "region=EMEA"
    assert check.metadata()["segments_warning"] == "region=EMEA"
    # The nights before the onset, and the other segments every night, stay quiet.
    for night in range(7, 40):
        (quiet,) = evaluate_segments(START + timedelta(days=night), rows, DEFAULTS, ["win_rate"])
        assert quiet.passed, quiet.status


def test_stable_segments_with_their_noise_never_warn_over_90_nights():
    for seed in (1, 2, 3):
        rows = segment_history(REGIONS | TEAMS, cases=60, nights_count=90, seed=seed)
        for night in range(90):
            day = START + timedelta(days=night)
            (check,) = evaluate_segments(day, rows, DEFAULTS, ["win_rate"])
            assert check.passed, (seed, night, check.status)


def test_small_segments_are_not_tested_and_segments_can_be_turned_off():
    # 20 cases a night, a win rate of 0.9 that falls to none: far beyond the noise, but a
    # segment under min_segment_cases (30) is not tested.
    rows = segment_history({"region=EMEA": 0.9, "team=Tiny": 0.9}, cases=20, nights_count=20,
                           seed=5, drift=("team=Tiny", 19, 0.0))  # fmt: skip
    day = START + timedelta(days=19)
    (check,) = evaluate_segments(day, rows, DEFAULTS, ["win_rate"])
    assert check.passed and check.results == [] and "nothing tested" in check.status
    small = Monitoring(min_segment_cases=10)
    (check,) = evaluate_segments(day, rows, small, ["win_rate"])
    assert [r.segment for r in check.warnings] == ["team=Tiny"]
    (check,) = evaluate_segments(day, rows, Monitoring(segments=("region",), min_segment_cases=10),
                                 ["win_rate"])  # fmt: skip
    assert check.passed and [r.segment for r in check.results] == ["region=EMEA"]
    (check,) = evaluate_segments(day, rows, Monitoring(segments=()), ["win_rate"])
    assert check.passed and "off" in check.status


def _warehouse_with_history(path: Path, day: date) -> None:
    """A reports.kpi_summary for `day` and 14 earlier snapshots in the old kpi_history layout
    (no cases, no standard_error: written before the drift checks)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA reports")
    con.execute(
        "CREATE TABLE reports.kpi_history (snapshot_date DATE NOT NULL, kpi VARCHAR NOT NULL, "
        "value DOUBLE, unit VARCHAR, period VARCHAR, refreshed_at TIMESTAMP NOT NULL)"
    )
    for night in range(14):
        for kpi in KPIS:
            con.execute(
                "INSERT INTO reports.kpi_history VALUES (?, ?, 0.30, 'share', 'p', now())",
                [day - timedelta(days=14 - night), kpi],
            )
    # Tonight: win_rate fell far (warns), sales_cycle_time rose within its noise (passes),
    # conformance_rate rose (an improvement), order_rework_rate rose far (warns).
    tonight = {"win_rate": 0.20, "sales_cycle_time": 0.31, "conformance_rate": 0.45,
               "order_rework_rate": 0.40}  # fmt: skip
    con.execute(
        "CREATE TABLE reports.kpi_summary (kpi VARCHAR, value DOUBLE, unit VARCHAR, "
        "period VARCHAR, definition VARCHAR, note VARCHAR, cases BIGINT, standard_error DOUBLE)"
    )
    for kpi in KPIS:
        value = tonight.get(kpi, 0.30)
        con.execute(
            "INSERT INTO reports.kpi_summary VALUES (?, ?, 'share', 'p', 'd', NULL, 3000, ?)",
            [kpi, value, math.sqrt(value * (1 - value) / 3000)],
        )
    # Per region: 14 earlier nights at 0.30 over 750 cases each; tonight EMEA's win rate is 0.15.
    con.execute(
        "CREATE TABLE reports.kpi_segments (dimension VARCHAR, segment VARCHAR, kpi VARCHAR, "
        "value DOUBLE, unit VARCHAR, cases BIGINT, standard_error DOUBLE)"
    )
    con.execute(
        "CREATE TABLE reports.kpi_segment_history (snapshot_date DATE NOT NULL, "
        "dimension VARCHAR NOT NULL, segment VARCHAR NOT NULL, kpi VARCHAR NOT NULL, value DOUBLE, "
        "unit VARCHAR, cases BIGINT, standard_error DOUBLE, refreshed_at TIMESTAMP NOT NULL)"
    )
    for region in ("APAC", "EMEA", "LATAM", "North America"):
        value = 0.15 if region == "EMEA" else 0.30
        con.execute(
            "INSERT INTO reports.kpi_segments VALUES ('region', ?, 'win_rate', ?, 'share', 750, ?)",
            [region, value, math.sqrt(value * (1 - value) / 750)],
        )
        for night in range(14):
            con.execute(
                "INSERT INTO reports.kpi_segment_history VALUES (?, 'region', ?, 'win_rate', 0.30, "
                "'share', 750, ?, now())",
                [day - timedelta(days=14 - night), region, math.sqrt(0.21 / 750)],
            )
    con.close()


def _run(path: Path, monkeypatch, day: date, recent_days: int = 0):
    monkeypatch.setenv("L2C_SNAPSHOT_DATE", day.isoformat())
    # The shipped process file; by default every KPI judged on its whole-period value, as the
    # synthetic warehouses here have a reports.kpi_summary but no event log.
    text = (ROOT / "process.yaml").read_text(encoding="utf-8")
    assert "  recent_days: 7\n" in text
    process = path.parent / f"process-{recent_days}.yaml"
    process.write_text(text.replace("  recent_days: 7\n", f"  recent_days: {recent_days}\n"))
    monkeypatch.setenv("L2C_PROCESS_FILE", str(process))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [kpi_history], resources={"warehouse": WarehouseResource(path=str(path))},
            instance=instance,
        )  # fmt: skip
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_kpi_alerts_holds_exactly_the_failed_checks_and_a_rerun_replaces_the_day(
    tmp_path, monkeypatch
):
    path, day = tmp_path / "warehouse.duckdb", date(2026, 3, 15)
    _warehouse_with_history(path, day)
    checks = _run(path, monkeypatch, day)
    assert set(checks) == {f"kpi_drift_{kpi}" for kpi in KPIS} | {
        f"kpi_drift_{kpi}_segments" for kpi in SEGMENT_KPIS
    }
    assert all(c.severity == AssetCheckSeverity.WARN for c in checks.values())
    failed = {name.removeprefix("kpi_drift_") for name, c in checks.items() if not c.passed}
    assert failed == {"win_rate", "order_rework_rate", "win_rate_segments"}
    segment_check = checks["kpi_drift_win_rate_segments"]
    assert segment_check.metadata["segment"].value == "region=EMEA"
    assert segment_check.metadata["segments_tested"].value == 4
    con = connect_read_only(path)
    alerts = con.execute(
        "SELECT snapshot_date, kpi, segment, value, baseline, change, z, cases, severity, rule "
        "FROM reports.kpi_alerts ORDER BY kpi, segment NULLS FIRST"
    ).fetchall()
    history = con.execute(
        "SELECT cases, standard_error FROM reports.kpi_history WHERE snapshot_date = ? "
        "AND kpi = 'win_rate'",
        [day],
    ).fetchone()
    old = con.execute(
        "SELECT count(*) FROM reports.kpi_history WHERE cases IS NULL AND snapshot_date < ?", [day]
    ).fetchone()[0]
    con.close()
    assert history == (3000, pytest.approx(math.sqrt(0.2 * 0.8 / 3000)))
    assert old == 14 * len(KPIS)  # the old rows kept, their new columns null
    assert [(row[1], row[2]) for row in alerts] == [
        ("order_rework_rate", None),
        ("win_rate", None),
        ("win_rate", "region=EMEA"),
    ]
    for row in alerts:
        name = f"kpi_drift_{row[1]}" + ("_segments" if row[2] else "")
        metadata = checks[name].metadata
        assert row[0] == day and row[8] == "WARN"
        assert row[3] == metadata["value"].value and row[4] == metadata["baseline"].value
        assert row[5] == pytest.approx(metadata["change"].value)
        assert row[6] == pytest.approx(metadata["z"].value) and row[7] == metadata["cases"].value
        assert row[9] == metadata["rule"].value
    win = checks["kpi_drift_win_rate"].metadata
    # Old rows have no standard error: today's (0.0073) stands in, z = 0.1 / (0.0073 sqrt 2).
    assert win["baseline"].value == pytest.approx(0.30)
    assert win["z"].value == pytest.approx(0.1 / (math.sqrt(0.16 / 3000) * math.sqrt(2)))
    # The drift gone the same day: the checks run, pass, and the day's alerts are replaced.
    con = connect(path)  # the run moved the old layout's reports into the models file
    con.execute("UPDATE reports.kpi_summary SET value = 0.30")
    con.execute("UPDATE reports.kpi_segments SET value = 0.30")
    con.close()
    checks = _run(path, monkeypatch, day)
    assert all(c.passed for c in checks.values())
    con = connect_read_only(path)
    assert con.execute("SELECT count(*) FROM reports.kpi_alerts").fetchone()[0] == 0
    con.close()


def test_the_drift_rule_is_run_for_all_kpis_at_once():
    rows = [Snapshot(START + timedelta(days=n), k, 0.3, 100, 0.046) for n in range(3) for k in KPIS]
    results = evaluate_drift(START + timedelta(days=2), rows, DEFAULTS)
    assert [r.kpi for r in results] == list(KPIS)
    assert all(r.passed and "too little history" in r.status for r in results)

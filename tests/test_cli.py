"""The `l2c` command as a user runs it: a separate process, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb

from l2c_pipeline.mapping.load import load_mapping, shape_file
from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only


def run_l2c(*args: str, home, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "L2C_HOME": str(home), **environment}
    return subprocess.run(
        [sys.executable, "-m", "l2c_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=home,  # no dagster.yaml there: the run's Dagster history stays in the test's folder
    )


def test_demo_extracts_the_demo_org_and_exits_cleanly(tmp_path):
    import matplotlib

    user_home = tmp_path / "user"
    user_home.mkdir()
    result = run_l2c(
        "demo",
        "--leads",
        "500",
        "--seed",
        "3",
        home=tmp_path,
        HOME=str(user_home),  # the user's own folder: the run writes nothing there
        MPLCONFIGDIR=matplotlib.get_configdir(),  # (matplotlib's font cache, built once)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Outside the repository Dagster's instance has the settings of its dagster.yaml: no
    # telemetry recorded for upload in the user's home (~/.dagster/logs).
    assert not list(user_home.rglob("*")), list(user_home.rglob("*"))
    synced = [
        line.split() for line in result.stdout.splitlines() if line.rstrip().endswith(" synced")
    ]
    # The demo's shape is cpq_billing: every object its mapping names is extracted.
    objects = load_mapping(shape_file("cpq_billing")).objects
    assert len(synced) == len(objects) == 30
    leads = next(row for row in synced if row[0] == "Lead")
    lead_rows = (tmp_path / "demo-org-cpq_billing-500-3" / "Lead.csv").read_text(
        encoding="utf-8"
    ).count("\n") - 1
    assert lead_rows > 500  # a few deleted duplicates, which queryAll brings too
    assert int(leads[2].replace(",", "")) == lead_rows
    assert (
        f"{len(objects)} objects of org Demo org (cpq_billing, 500 leads, seed 3) synced into"
        in result.stdout
    )
    assert (tmp_path / "warehouse.duckdb").exists()
    assert (
        f"HTML report (opens with no network): {tmp_path / 'outputs' / 'report.html'}"
        in result.stdout
    )
    assert (
        "process map with sales touches: "
        f"{tmp_path / 'outputs' / 'process_map_with_touches_performance.svg'}" in result.stdout
    )
    # The report again from the analytics file, and the exports other tools read.
    report = run_l2c("report", "--out", str(tmp_path / "again.html"), home=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Lead-to-Cash process report" in (tmp_path / "again.html").read_text(encoding="utf-8")
    # Both performance maps: milestones (the report's) and with sales touches, and the
    # milestones' business view the report folds below.
    for name in (
        "process_map_performance.svg",
        "process_map_business.svg",
        "process_map_with_touches_performance.svg",
    ):
        (tmp_path / "outputs" / name).unlink()
    report = run_l2c("report", "--out", str(tmp_path / "again.html"), home=tmp_path)
    assert report.returncode == 0, report.stderr
    milestones = (tmp_path / "outputs" / "process_map_performance.svg").read_text(encoding="utf-8")
    touches = (tmp_path / "outputs" / "process_map_with_touches_performance.svg").read_text(
        encoding="utf-8"
    )
    assert ">Call<" in touches and ">Call<" not in milestones
    business = (tmp_path / "outputs" / "process_map_business.svg").read_text(encoding="utf-8")
    assert "Median waits in business hours" in business and ">Call<" not in business
    assert 'data-map="milestones_business"' in (tmp_path / "again.html").read_text(encoding="utf-8")
    exported = run_l2c(
        "export", "--format", "xes,ocel", "--out", str(tmp_path / "x"), home=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "event_log.ocel2.json",
        "event_log.xes",
    ]
    wrong = run_l2c("export", "--format", "pdf", home=tmp_path)
    assert wrong.returncode == 2 and "unknown export format 'pdf'" in wrong.stderr

    # Another demo org: the warehouse starts afresh instead of mixing the two orgs' records.
    other = run_l2c("demo", "--shape", "standard", "--leads", "100", home=tmp_path)
    assert other.returncode == 0, other.stdout + other.stderr
    assert "held another demo org (Demo org (cpq_billing, 500 leads, seed 3))" in other.stdout
    other_leads = (tmp_path / "demo-org-standard-100-42" / "Lead.csv").read_text(
        encoding="utf-8"
    ).count("\n") - 1
    with connect_read_only(tmp_path / "warehouse.duckdb") as con:
        assert con.execute('SELECT count(*) FROM raw."Lead"').fetchone()[0] == other_leads
        raw_tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
        leads_in_log = con.execute(
            "SELECT count(*) FROM core.event_log WHERE activity = 'Lead Created'"
        ).fetchone()[0]
        lost = con.execute("SELECT count(*) FROM mining.case_facts WHERE is_lost").fetchone()[0]
    assert not any(name.startswith(("SBQQ__", "blng__")) for name in raw_tables)
    assert leads_in_log == 100
    # A Sales Cloud org records no loss reason: the report says so instead of dropping the section.
    report_html = (tmp_path / "outputs" / "report.html").read_text(encoding="utf-8")
    assert lost > 0
    assert f"No lost deal records a loss reason ({lost:,} lost deals)" in report_html


def test_generate_rejects_bad_arguments_with_one_line(tmp_path):
    result = run_l2c(
        "demo-org", "generate", "--leads", "0", "--out", str(tmp_path / "x"), home=tmp_path
    )
    assert result.returncode == 2
    assert "Invalid value for '--leads'" in result.stderr and "Traceback" not in result.stderr


def test_serve_reports_a_broken_snapshot_without_a_traceback(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Lead.csv").write_text('"Name"\n"no id column"\n', encoding="utf-8")
    result = run_l2c("demo-org", "serve", "--from", str(folder), home=tmp_path)
    assert result.returncode == 1
    assert "Error: Lead.csv: no Id column" in result.stderr and "Traceback" not in result.stderr


def test_serve_rejects_a_bad_fault_spec(tmp_path, small_org):
    result = run_l2c(
        "demo-org", "serve", "--from", str(small_org), "--faults", "boom@query", home=tmp_path
    )
    assert result.returncode == 1
    assert "unknown kind 'boom'" in result.stderr


def test_every_setting_the_code_reads_is_in_run_help_and_the_readme():
    import re
    from pathlib import Path

    from click.testing import CliRunner

    from l2c_pipeline.cli import main
    from l2c_pipeline.environment import SETTINGS

    root = Path(__file__).resolve().parents[1]
    read = set()
    for source in (root / "l2c_pipeline").rglob("*.py"):
        read |= set(re.findall(r"[\"'](?:L2C|SF)_[A-Z0-9_]+[\"']", source.read_text()))
    read = {name.strip("\"'") for name in read}
    listed = {name for name, _, _ in SETTINGS}
    assert read == listed, (
        f"read but not listed: {read - listed}; listed but not read: {listed - read}"
    )
    shown = CliRunner().invoke(main, ["run", "--help"]).output
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| variable | meaning | default |") :]
    table = table[: table.index("\n\n")]
    for name in listed:
        assert f"  {name}  " in shown or f"  {name} " in shown, (
            f"{name} missing from l2c run --help"
        )
        assert f"`{name}`" in table, f"{name} missing from the README's settings table"


def test_demo_carries_a_living_org_on_from_night_to_night(tmp_path):
    """With L2C_DEMO_AS_OF, `l2c demo` reads the living demo org as of that night into the same
    warehouse: the next night reads what changed, and the warehouse holds the night's records."""
    nights = ("2026-10-20T23:00:00Z", "2026-10-21T23:00:00Z")
    outputs, errors = [], []
    for night in nights:
        result = subprocess.run(
            [sys.executable, "-m", "l2c_pipeline.cli", "demo", "--leads", "100"],
            env={**os.environ, "L2C_HOME": str(tmp_path), "L2C_DEMO_AS_OF": night},
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"as of {night}" in result.stdout
        outputs.append(result.stdout)
        errors.append(result.stderr)
    assert "starting it afresh" not in outputs[1]
    (folder,) = tmp_path.glob("demo-org-cpq_billing-100-42-living-*")
    lead_rows = (folder / "Lead.csv").read_text(encoding="utf-8").count("\n") - 1
    lead_line = next(line.split() for line in outputs[1].splitlines() if line.startswith("Lead "))
    assert int(lead_line[2].replace(",", "")) < lead_rows  # the second night read the changes
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('SELECT count(*) FROM raw."Lead"').fetchone()[0] == lead_rows
    # The second night rewrote only the cases that changed, and the tables hold exactly what
    # their SQL gives run whole on that night's records.
    said = [line for line in (outputs[1] + errors[1]).splitlines() if "core.event_log: " in line]
    assert said and "rewrote the changed cases only: " in said[0], said
    from l2c_pipeline.warehouse.duckdb_warehouse import connect_read_only

    from .test_incremental import assert_equal_to_whole_builds

    con = connect_read_only(tmp_path / "warehouse.duckdb")
    try:
        assert_equal_to_whole_builds(con)
    finally:
        con.close()

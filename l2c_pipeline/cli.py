"""The `l2c` command."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import click

from .demo_org.catalogue import DEFAULT_SHAPE, SHAPES
from .demo_org.generator import MAX_LEADS

DEFAULT_HOME = ".l2c"


def _home() -> Path:
    return Path(os.environ.get("L2C_HOME", DEFAULT_HOME))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lead-to-Cash process mining for Salesforce."""


@main.group("demo-org")
def demo_org() -> None:
    """The built-in demo Salesforce org: generate one, serve it over HTTPS."""


@demo_org.command("generate")
@click.option(
    "--leads",
    type=click.IntRange(1, MAX_LEADS),
    default=2000,
    show_default=True,
    help=f"Number of leads (100 to {MAX_LEADS:,} is the intended range).",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Same seed, same files, byte for byte."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the CSV files, truths.json, expected_event_log.csv and org.json.",
)
@click.option(
    "--as-of", default=None, help="Snapshot time (UTC, ISO 8601); nothing happens after it."
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Processes (default: all cores)."
)
@click.option(
    "--shape",
    type=click.Choice(SHAPES),
    default=DEFAULT_SHAPE,
    show_default=True,
    help="Which kind of org: Sales Cloud only, with CPQ and Billing, or a customised one.",
)
def generate_command(
    leads: int, seed: int, out: Path, as_of: str | None, workers: int | None, shape: str
) -> None:
    """Write a realistic org snapshot as Data Loader-style CSV files."""
    from .demo_org.generator import DEFAULT_AS_OF, generate

    try:
        generate(
            out,
            leads=leads,
            seed=seed,
            as_of=as_of or DEFAULT_AS_OF,
            workers=workers,
            progress=lambda m: click.echo(m, err=True),
            shape=shape,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@demo_org.command("serve")
@click.option(
    "--from",
    "snapshot",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A snapshot folder: one CSV per object, header = API field names.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--faults", default="", help="Faults to inject, e.g. '503@query#2,limit=500' (see README)."
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write SF_INSTANCE_URL, SF_ACCESS_TOKEN, SF_CA_BUNDLE (and demo credentials) here.",
)
@click.option(
    "--api-budget",
    type=click.IntRange(1),
    default=100_000,
    show_default=True,
    help="Daily API request budget reported in Sforce-Limit-Info.",
)
def serve_command(
    snapshot: Path, port: int, faults: str, env_file: Path | None, api_budget: int
) -> None:
    """Serve a snapshot over HTTPS on 127.0.0.1 with the Salesforce REST API."""
    from .demo_org.faults import FaultSpecError
    from .demo_org.server import DemoOrgServer
    from .demo_org.store import SnapshotError

    click.echo(f"loading {snapshot} ...", err=True)
    started = time.monotonic()
    try:
        server = DemoOrgServer(
            snapshot,
            port=port,
            faults=faults,
            daily_api_budget=api_budget,
            work_dir=(env_file.parent if env_file else None),
        )
    except (SnapshotError, FaultSpecError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None
    counts = server.store.row_counts()
    click.echo(
        f"demo org: {len(counts)} objects, {sum(counts.values()):,} records, loaded in "
        f"{time.monotonic() - started:.1f}s",
        err=True,
    )
    if env_file:
        server.write_env_file(env_file)
        click.echo(f"connection settings written to {env_file}", err=True)
    click.echo(
        f"serving {server.instance_url} (CA bundle {server.ca_bundle}); Ctrl-C stops", err=True
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        click.echo("stopped", err=True)


@demo_org.command("catalogue")
@click.option("--shape", type=click.Choice(SHAPES), default=DEFAULT_SHAPE, show_default=True)
def catalogue_command(shape: str) -> None:
    """Print the objects and fields of a demo org of the shape (Markdown)."""
    from .demo_org.catalogue import catalogue_markdown

    click.echo(catalogue_markdown(shape))


@main.group("mapping")
def mapping_group() -> None:
    """The mapping file: where the org keeps what the event log needs."""


@mapping_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def mapping_check_command(file: Path | None) -> None:
    """Check a mapping file (default: L2C_MAPPING_FILE, else the L2C_ORG_SHAPE shape's) without
    touching any org, and print what it reads."""
    from .mapping.load import MappingError, check_touch_activities, load_mapping
    from .models.sql_models import catalogue_rows

    try:
        mapping = load_mapping(file)
        check_touch_activities(mapping, catalogue_rows())
    except MappingError as error:
        raise click.ClickException(str(error)) from None
    chain = " extends ".join(str(path) for path in mapping.files)
    if file is None and not os.environ.get("L2C_MAPPING_FILE"):
        shape = os.environ.get("L2C_ORG_SHAPE")
        chose = f"L2C_ORG_SHAPE={shape}" if shape else "L2C_ORG_SHAPE unset: the standard shape"
        click.echo(f"no file given: the mapping of the org's shape ({chose})")
    click.echo(f"{chain}: valid")
    click.echo(f"objects to extract ({len(mapping.objects)}): {', '.join(mapping.objects)}")
    for name, entity in mapping.entities.items():
        click.echo(f"  {name:<22}{entity.object} ({len(entity.columns)} columns mapped)")
    history = ", ".join(h.object for h in mapping.history) or "none"
    click.echo(f"field history read from: {history}")
    captured = ", ".join(f"{o}.{f}" for o, fields in mapping.change_capture.items() for f in fields)
    click.echo(f"change capture (the pipeline's own history): {captured or 'none'}")
    for name, sources in mapping.attributes.items():
        listed = ", ".join(f"{s.anchor}.{s.field}" for s in sources) or "(no source)"
        click.echo(f"  attribute {name:<16}{listed}")


def _dagster_instance():
    """The persistent Dagster instance: DAGSTER_HOME if set, else .l2c/dagster with ./dagster.yaml."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    home = (_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config_dir = os.getcwd() if Path("dagster.yaml").exists() else str(home)
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), config_dir=config_dir))


def _failed_checks(result) -> tuple[list[str], bool]:
    """Each asset check that did not pass, in a line; and whether one of them is an error."""
    from dagster import AssetCheckSeverity

    lines, error = [], False
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        is_error = check.severity == AssetCheckSeverity.ERROR
        error = error or is_error
        figures = ", ".join(
            f"{name}={getattr(value, 'value', value)}" for name, value in check.metadata.items()
        )
        lines.append(
            f"CHECK {'FAILED' if is_error else 'WARNING'} {check.asset_key.to_user_string()} "
            f"{check.check_name}" + (f": {figures}" if figures else "")
        )
    return lines, error


def _run_graph() -> tuple[bool, str]:
    """Materialize the whole graph once (the nightly job); returns success and the run id. A
    failed ERROR check fails the run too: its figures are not to be trusted."""
    from .definitions import NIGHTLY_JOB, defs

    with _dagster_instance() as instance:
        result = defs.resolve_job_def(NIGHTLY_JOB).execute_in_process(
            instance=instance,
            raise_on_error=False,
            # Progress and warnings on the terminal; every event is still in the run's event log.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                failure = event.step_failure_data.error
                message = failure.message.strip() if failure else "unknown error"
                # A Failure raised on purpose carries the whole message; its class name is noise.
                message = message.removeprefix("dagster._core.definitions.events.Failure: ")
                click.echo(f"FAILED {event.step_key}: {message}", err=True)
        checks, check_error = _failed_checks(result)
        for line in checks:
            click.echo(line, err=True)
        return result.success and not check_error, result.run_id


def _print_loaded(run_id: str) -> None:
    from .warehouse.duckdb_warehouse import connect
    from .warehouse.source import held_source

    warehouse = _warehouse_path()
    con = connect(warehouse)
    try:
        rows = con.execute(
            "SELECT l.object_name, l.method, l.rows_read, l.inserted, l.updated, l.deleted, l.api_calls, l.status, "
            "(SELECT estimated_size FROM duckdb_tables() t WHERE t.schema_name = 'raw' AND t.table_name = l.object_name) "
            "FROM meta.sync_log l WHERE l.run_id = ? ORDER BY l.object_name",
            [run_id],
        ).fetchall()
        source = held_source(con)
    finally:
        con.close()
    if not rows:  # the file source: nothing was extracted
        click.echo(
            f"loaded {os.environ.get('L2C_EVENT_LOG_FILE', 'the event-log file')} into {warehouse}"
        )
        _print_event_log(warehouse)
        return
    click.echo(
        f"{'object':<28}{'method':>7}{'read':>9}{'new':>9}{'changed':>9}{'deleted':>8}{'calls':>6}  status"
    )
    for name, method, read, inserted, updated, deleted, calls, status, _ in rows:
        click.echo(
            f"{name:<28}{(method or '-'):>7}{read:>9,}{inserted:>9,}{updated:>9,}{deleted:>8,}{calls:>6}  {status}"
        )
    org_check_calls = 1 if source.get("checked_by_run") == run_id else 0
    org = source.get("org_name") or source.get("org_id", "unknown")
    click.echo(
        f"{len(rows)} objects of org {org} synced into {warehouse}; "
        f"{sum(r[6] for r in rows) + org_check_calls} API calls"
    )
    _print_event_log(warehouse)


def _print_event_log(warehouse: Path) -> None:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'core' AND table_name = 'event_log'"
        ).fetchone()[0]
        if not exists:
            return
        events, cases, activities = con.execute(
            "SELECT count(*), count(DISTINCT case_id), count(DISTINCT activity) FROM core.event_log"
        ).fetchone()
        won, lost, leads = con.execute(
            "SELECT count(*) FILTER (WHERE is_won), count(*) FILTER (WHERE is_closed AND NOT is_won "
            "AND case_type = 'opportunity'), count(*) FILTER (WHERE case_type = 'lead') FROM core.cases"
        ).fetchone()
        top = con.execute(
            "SELECT activity, count(*) FROM core.event_log GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        ).fetchall()
    finally:
        con.close()
    click.echo(
        f"\nevent log: {events:,} events, {activities} activities, {cases:,} cases "
        f"({won:,} won, {lost:,} lost, {leads:,} unconverted leads) in core.event_log / core.cases"
    )
    click.echo("most frequent: " + ", ".join(f"{activity} ({count:,})" for activity, count in top))
    _print_coverage(warehouse)
    from .warehouse.publish import default_analytics_path

    analytics = default_analytics_path(warehouse)
    if analytics.exists():
        _print_kpis(analytics)
        _print_findings(analytics)
        from .warehouse.publish import default_output_dir

        outputs = default_output_dir(warehouse)
        for name, what in (
            ("report.html", "HTML report (opens with no network)"),
            ("process_map_performance.svg", "process map"),
            ("process_model.bpmn", "discovered process model (BPMN)"),
        ):
            if (outputs / name).exists():
                click.echo(f"{what}: {(outputs / name).resolve()}")
        click.echo(
            f"analytics file (open it read-only; core, mining and reports): {analytics.resolve()}"
        )


def _print_coverage(warehouse: Path) -> None:
    """What the org's records do not hold, part by part (core.data_coverage)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'core' AND table_name = 'data_coverage'"
        ).fetchone()[0]
        if not exists:
            return
        rows = con.execute(
            "SELECT family, status, missing, status_history FROM core.data_coverage "
            "WHERE status <> 'complete' OR status_history LIKE 'change capture%'"
        ).fetchall()
    if not rows:
        click.echo("every part of the process the mapping names is in the org (core.data_coverage)")
        return
    click.echo("\nwhat this org's records hold (core.data_coverage):")
    for family, status, missing, history in rows:
        statuses = None
        if history:
            statuses = "no status history" if history == "none" else f"statuses from {history}"
        parts = [p for p in (missing, statuses) if p]
        click.echo(f"  {family}: {status}" + (f" - {'; '.join(parts)}" if parts else ""))


def _print_kpis(analytics: Path) -> None:
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as con:
        rows = con.execute(
            "SELECT kpi, value, unit, period, note FROM reports.kpi_summary"
        ).fetchall()
    if not rows:
        return
    click.echo(f"\nheadline KPIs ({rows[0][3]}):")
    from .outputs.html_report import shown

    for kpi, value, unit, _, note in rows:
        figure = shown(value, unit) if value is not None else f"none: {note}"
        click.echo(f"  {kpi.replace('_', ' '):<32}{figure}")


def _print_findings(analytics: Path) -> None:
    """The strongest root cause of each outcome and the compliance picture, in a sentence each."""
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as con:
        causes = con.execute(
            "SELECT kpi, attribute, value, kpi_value, baseline, lift FROM reports.root_causes "
            "WHERE is_root_cause AND rank_in_kpi = 1 ORDER BY kpi"
        ).fetchall()
        violations = con.execute(
            "SELECT rule, count(DISTINCT case_id) FROM reports.compliance_violations "
            "WHERE severity = 'high' GROUP BY rule ORDER BY 2 DESC"
        ).fetchall()
    if causes:
        click.echo("\nstrongest root causes (reports.root_causes):")
        for kpi, attribute, value, rate, baseline, lift in causes:
            click.echo(
                f"  {kpi.replace('_', ' ')}: {attribute.replace('_', ' ')} {value} "
                f"{rate:.0%} against {baseline:.0%} for the rest ({lift:.1f}x)"
            )
    if violations:
        listed = ", ".join(f"{rule.replace('_', ' ')} {cases:,}" for rule, cases in violations)
        click.echo(f"cases breaking high-severity rules (reports.compliance_violations): {listed}")


@main.command("run")
def run_command() -> None:
    """Materialize the whole graph once with the configured source (the nightly job)."""
    ok, run_id = _run_graph()
    if not ok:
        raise click.ClickException(f"run {run_id} failed (see above; details in the Dagster UI)")
    _print_loaded(run_id)


@main.command("demo")
@click.option("--leads", type=click.IntRange(100, MAX_LEADS), default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--shape",
    type=click.Choice(SHAPES),
    default=DEFAULT_SHAPE,
    show_default=True,
    help="The demo org's shape; the pipeline reads it with that shape's mapping.",
)
def demo_command(leads: int, seed: int, shape: str) -> None:
    """Run the pipeline on the built-in demo org and show what it loaded."""
    from .resources import demo_org_folder

    os.environ["L2C_SOURCE"] = "demo"
    os.environ["L2C_DEMO_LEADS"] = str(leads)
    os.environ["L2C_DEMO_SEED"] = str(seed)
    os.environ["L2C_ORG_SHAPE"] = shape
    os.environ.pop("L2C_MAPPING_FILE", None)  # the demo org is read with its own shape's mapping
    folder = demo_org_folder(shape, leads, seed)
    _start_afresh_after_another_demo_org(folder)
    click.echo(
        f"demo org ({shape}): {leads:,} leads, seed {seed} ({folder}); extracting it over HTTPS ..."
    )
    ok, run_id = _run_graph()
    if not ok:
        raise click.ClickException(f"run {run_id} failed (see above)")
    _print_loaded(run_id)
    truths = json.loads((folder / "truths.json").read_text(encoding="utf-8"))["truths"]
    click.echo(f"\n{len(truths)} planted truths in {folder / 'truths.json'}, e.g.:")
    for truth in truths[:3]:
        click.echo(f"  - {truth['statement']}")


def _start_afresh_after_another_demo_org(folder: Path) -> None:
    """A warehouse that holds another demo org's records is started afresh: demo orgs are
    throw-away, and syncing a second one into it would mix two orgs. A warehouse holding a
    real org is never touched here (the run refuses to mix instead)."""
    import duckdb

    from .warehouse.source import held_source

    warehouse = _warehouse_path()
    if not warehouse.exists():
        return
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            held = held_source(con)
    except duckdb.Error:
        return  # not a warehouse this can read: the run says what is wrong with it
    if held.get("org_kind") != "demo" or held.get("demo_org_folder") in (None, str(folder)):
        return
    click.echo(
        f"the warehouse {warehouse} held another demo org ({held.get('org_name') or held['org_id']}); "
        "starting it afresh for this one"
    )
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        path.unlink(missing_ok=True)


def _warehouse_path() -> Path:
    return Path(os.environ.get("L2C_WAREHOUSE") or _home() / "warehouse.duckdb")


@main.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Default: report.html in the output folder.",
)
def report_command(out: Path | None) -> None:
    """Write the HTML report (and the process maps) from the analytics file, read-only: it works
    while the pipeline runs."""
    import duckdb

    from .outputs.html_report import write_report
    from .outputs.process_maps import process_map, render
    from .warehouse.publish import default_analytics_path, default_output_dir

    warehouse = _warehouse_path()
    analytics = default_analytics_path(warehouse)
    if not analytics.exists():
        raise click.ClickException(
            f"no analytics file at {analytics}: run `l2c run` (or `l2c demo`) first"
        )
    folder = default_output_dir(warehouse)
    with duckdb.connect(str(analytics), read_only=True) as con:
        svg = render(process_map(con, "performance").dot, folder / "process_map_performance")["svg"]
        path = write_report(con, out or folder / "report.html", svg.read_text(encoding="utf-8"))
    click.echo(f"HTML report: {path.resolve()}")


@main.command("template")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("l2c_event_log_template.xlsx"),
    show_default=True,
)
def template_command(out: Path) -> None:
    """Write the event-log template (.xlsx): Events, Cases and Instructions sheets."""
    from .file_source.template import write_template
    from .models.sql_models import catalogue_rows

    rows = catalogue_rows()
    path = write_template(
        out, [(activity, family, description) for activity, family, _, description in rows]
    )
    click.echo(f"template: {path.resolve()} ({len(rows)} activities in the drop-down)")


@main.command("export")
@click.option(
    "--format",
    "formats",
    default="csv,parquet,xes,ocel",
    show_default=True,
    help="Comma-separated: csv, parquet, xes, ocel (OCEL 2.0 JSON).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into. Default: the output folder beside the warehouse.",
)
def export_command(formats: str, out: Path | None) -> None:
    """Export the event log for other process-mining tools."""
    import duckdb

    from .outputs.exports import export_event_log, parse_formats
    from .warehouse.publish import default_output_dir

    try:
        chosen = parse_formats(formats)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--format") from None
    warehouse = _warehouse_path()
    if not warehouse.exists():
        raise click.ClickException(
            f"no warehouse at {warehouse}: run `l2c run` (or `l2c demo`) first"
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException:
        raise click.ClickException(
            f"{warehouse} is being written by a running pipeline; export when it has finished"
        ) from None
    with con:
        files = export_event_log(con, out or default_output_dir(warehouse), chosen)
    for fmt, path in files.items():
        click.echo(f"{fmt:<8}{path.resolve()}  ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

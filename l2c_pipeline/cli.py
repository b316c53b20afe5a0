"""The `l2c` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from .demo_org.catalogue import DEFAULT_SHAPE, SHAPES
from .demo_org.generator import MAX_LEADS
from .environment import settings_help
from .monitoring.alerts import failure_message as _failure_message
from .monitoring.alerts import step_name as _step_name
from .preflight import folder_path_problem

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
    "--horizon",
    default=None,
    help="End of the generation window (default: --as-of); the same seed, size and horizon at a "
    "later --as-of give the continuation of the earlier snapshot (a living org).",
)
@click.option(
    "--drift",
    default=None,
    help="A drift from a day on, e.g. approval_slowdown=3@2026-11-15 (approvals 3x slower).",
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
    leads: int,
    seed: int,
    out: Path,
    as_of: str | None,
    horizon: str | None,
    drift: str | None,
    workers: int | None,
    shape: str,
) -> None:
    """Write a realistic org snapshot as Data Loader-style CSV files."""
    from .demo_org.generator import DEFAULT_AS_OF, generate

    try:
        generate(
            out,
            leads=leads,
            seed=seed,
            as_of=as_of or DEFAULT_AS_OF,
            horizon=horizon,
            drift=drift,
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
    finally:
        server.stop()  # ends the clients' open connections and waits for their requests


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
    try:
        folder_path_problem("L2C_HOME", _home())
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    home = (_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if Path("dagster.yaml").exists():
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), config_dir=os.getcwd()))
    # No dagster.yaml (a run started outside the repository): Dagster's default SQLite files in
    # .l2c/dagster, with the event log, compute logs and settings this repository's dagster.yaml
    # names (telemetry off: nothing is recorded for upload, and a run writes no log of it per
    # step).
    event_log = {
        "module": "l2c_pipeline.event_storage",
        "class": "KeptOpenSqliteEventLogStorage",
        "config": {"base_dir": str(home / "history" / "runs")},
    }
    compute_logs = {
        "module": "l2c_pipeline.compute_logs",
        "class": "QuietLocalComputeLogManager",
        "config": {"base_dir": str(home / "storage")},
    }
    return DagsterInstance.from_ref(
        InstanceRef.from_dir(
            str(home),
            overrides={
                "event_log_storage": event_log,
                "compute_logs": compute_logs,
                "telemetry": {"enabled": False},
            },
        )
    )


def _failed_checks(result) -> tuple[list[str], bool]:
    """Each asset check that did not pass, in a line; and whether one of them is an error."""
    from dagster import AssetCheckSeverity

    lines, error = [], False
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        is_error = check.severity == AssetCheckSeverity.ERROR
        error = error or is_error
        # The cause in one line: the check's own sentence where it wrote one (a drift's or a
        # stale object's), else its figures (lists and tables left to the UI).
        cause = " ".join((check.description or "").split()) or ", ".join(
            f"{name}={plain}"
            for name, value in check.metadata.items()
            if not isinstance(plain := getattr(value, "value", value), (dict, list))
        )
        lines.append(
            f"CHECK {'FAILED' if is_error else 'WARNING'} {check.asset_key.to_user_string()} "
            f"{check.check_name}" + (f": {cause}" if cause else "")
        )
    return lines, error


@dataclass
class RunOutcome:
    """What one run of the graph did, read from its events (not from the warehouse, which the
    next run may already be writing)."""

    run_id: str
    ok: bool
    failures: list[tuple[str, str]]  # (step, its own message), in the order they failed
    steps_done: int
    steps_not_run: int
    check_lines: list[str]
    materialized: dict[str, dict]  # asset key -> its metadata values


def _run_graph() -> RunOutcome:
    """Materialize the whole graph once (the nightly job). A failed ERROR check fails the run
    too: its figures are not to be trusted."""
    try:
        # Loading the definitions reads the mapping, the object catalogue, the target process,
        # the SQL models and the schedule's settings: a wrong one is a line, not a traceback.
        from .definitions import NIGHTLY_JOB, defs
    except ValueError as error:
        raise click.ClickException(" ".join(str(error).split())) from None
    from .terminal_log import LOGGER_NAME

    with _dagster_instance() as instance:
        _close_abandoned_runs(instance)
        job = defs.resolve_job_def(NIGHTLY_JOB)
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            # Which process runs it: a later run can tell a run whose process died.
            tags={PROCESS_TAG: _process_tag()},
            # The assets' progress and warnings on the terminal, a line each; every event and
            # stack trace is still in the run's event log.
            run_config={"loggers": {LOGGER_NAME: {"config": {"log_level": "INFO"}}}},
        )
        failures, done, materialized = [], set(), {}
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                failures.append(
                    (_step_name(event.step_key), _failure_message(event, list_lines=True))
                )
            elif event.event_type_value == "RESOURCE_INIT_FAILURE":
                # A resource that could not start (a bad setting, the run lock not free): no
                # step ran, and this is the run's only failure.
                failures.append(("run setup", _failure_message(event)))
            elif event.event_type_value == "STEP_SUCCESS":
                done.add(event.step_key)
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                materialization = event.step_materialization_data.materialization
                materialized[materialization.asset_key.to_user_string()] = {
                    name: getattr(value, "value", value)
                    for name, value in materialization.metadata.items()
                }
        steps = len(job.get_subset(asset_selection=None).nodes_in_topological_order)
        checks, check_error = _failed_checks(result)
        _deliver_alerts(instance, result.run_id)
        return RunOutcome(
            run_id=result.run_id,
            ok=result.success and not check_error,
            failures=failures,
            steps_done=len(done),
            steps_not_run=max(0, steps - len(done) - len(failures)),
            check_lines=checks,
            materialized=materialized,
        )


class _AlertLog:
    """Alert delivery's lines on the terminal, where `l2c run` prints its own."""

    def info(self, message: str) -> None:
        click.echo(message, err=True)

    warning = info


# A run's process, as host:pid, on the runs `l2c run` starts.
PROCESS_TAG = "l2c/process"
ABANDONED = (
    "the run's process ended before the run did (killed, out of memory, or the machine "
    "stopped); what its finished steps committed is kept, and the next run carries on from it"
)


def _boot_id() -> str:
    """This boot of the machine (Linux): after a reboot no process of before is alive, whatever
    its id; elsewhere empty."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _process_tag() -> str:
    return f"{socket.gethostname()}:{_boot_id()}:{os.getpid()}"


def _close_abandoned_runs(instance) -> None:
    """Runs of `l2c run` whose process died stay STARTED in Dagster's history for ever, and no
    one is told: they are marked failed, said in a line and alerted as any failed run."""
    from dagster import DagsterRunStatus, RunsFilter

    from .warehouse.publish import pid_alive

    host, boot = socket.gethostname(), _boot_id()
    started = instance.get_runs(
        filters=RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])
    )
    for run in started:
        tag = run.tags.get(PROCESS_TAG, "").rsplit(":", 2)
        if len(tag) != 3 or tag[0] != host or not tag[2].isdigit():
            continue  # not started by `l2c run` here: another machine's runs are left alone
        pid = int(tag[2])
        # Alive only if the machine has not rebooted since and the id is not this process's
        # own (a container's `l2c` often gets the same small id every time).
        if tag[1] == boot and pid != os.getpid() and pid_alive(pid):
            continue
        instance.report_run_failed(run, ABANDONED)
        click.echo(f"an earlier run ({run.run_id}) did not finish: {ABANDONED}", err=True)
        _deliver_alerts(instance, run.run_id)


def _deliver_alerts(instance, run_id: str) -> None:
    """The run's alerts, as the daemon's sensors would send them (same functions, same ledger:
    whichever delivers first, the other sends nothing). Never fails the command."""
    from .monitoring.alerts import notify_run

    report = notify_run(instance, run_id, log=_AlertLog())
    if report.sent:
        click.echo(report.summary(), err=True)


def _report_outcome(outcome: RunOutcome) -> None:
    """Checks that did not pass, then for a failed run every failed step in a line and the
    first failure's own message as the last line (what a person reads first)."""
    for line in outcome.check_lines:
        click.echo(line, err=True)
    if outcome.ok:
        return
    # Steps that failed for the first failure's own reason (the API limit, a refused login)
    # are named together, the reason said once.
    first_message = outcome.failures[0][1] if outcome.failures else None
    same = [step for step, message in outcome.failures[1:] if message == first_message]
    if same:
        click.echo(f"also stopped for the same reason: {', '.join(same)}", err=True)
    for step, message in outcome.failures[1:]:
        if message != first_message:
            click.echo(f"also failed: {step}: {message}", err=True)
    published = (
        "the analytics file was published; outputs written after it may be from the last run"
        if "analytics_file" in outcome.materialized
        else "the published analytics file and outputs are unchanged"
    )
    click.echo(
        f"run {outcome.run_id} failed: {outcome.steps_done} steps done, "
        f"{len(outcome.failures)} failed, {outcome.steps_not_run} not run; {published} "
        "(full details in the Dagster UI)",
        err=True,
    )
    if outcome.failures:
        step, message = outcome.failures[0]
        raise click.ClickException(f"{step}: {message}")
    if outcome.check_lines:
        raise click.ClickException("an asset check with severity ERROR failed (see above)")
    raise click.ClickException("the run failed without a step failure (see the Dagster UI)")


_SYNC_COLUMNS = ("method", "rows_read", "rows_inserted", "rows_updated", "rows_deleted")


def _print_loaded(outcome: RunOutcome) -> None:
    warehouse = _warehouse_path()
    synced = {
        key.removeprefix("raw/"): meta
        for key, meta in outcome.materialized.items()
        if key.startswith("raw/")
    }
    if not synced:  # the file source: nothing was extracted
        click.echo(
            f"loaded {os.environ.get('L2C_EVENT_LOG_FILE', 'the event-log file')} into {warehouse}"
        )
        _print_event_log(warehouse)
        return
    width = max(28, *(len(name) + 1 for name in synced))  # the longest object name sets it
    click.echo(
        f"{'object':<{width}}{'method':>7}{'read':>9}{'new':>9}{'changed':>9}{'deleted':>8}"
        f"{'calls':>6}  status"
    )
    calls = 0
    for name in sorted(synced):
        meta = synced[name]
        method = meta.get("method", "-")
        read, inserted, updated, deleted = (int(meta.get(k, 0)) for k in _SYNC_COLUMNS[1:])
        calls += int(meta.get("api_calls", 0))
        click.echo(
            f"{name:<{width}}{method.lower() if method != 'NONE' else '-':>7}{read:>9,}{inserted:>9,}"
            f"{updated:>9,}{deleted:>8,}{int(meta.get('api_calls', 0)):>6}  {meta.get('status', '')}"
        )
    org = outcome.materialized.get("meta/source", {})
    if org:
        calls += 1  # the pre-flight's Organization query
    name = org.get("org_name") or org.get("org_id") or "unknown"
    if str(name).startswith("unknown"):
        name = org.get("org_id", "unknown")
    click.echo(f"{len(synced)} objects of org {name} synced into {warehouse}; {calls} API calls")
    _print_event_log(warehouse)


def _print_event_log(warehouse: Path) -> None:
    """The event log, coverage, KPIs and findings, from the published analytics file (the
    warehouse may already be another run's)."""
    import duckdb

    from .warehouse.publish import default_analytics_path, default_output_dir

    analytics = default_analytics_path(warehouse)
    if not analytics.exists():
        return
    con = duckdb.connect(str(analytics), read_only=True)
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
        f"({won:,} won, {lost:,} lost, {leads:,} leads without an opportunity) in core.event_log / core.cases"
    )
    click.echo("most frequent: " + ", ".join(f"{activity} ({count:,})" for activity, count in top))
    _print_coverage(analytics)
    _print_kpis(analytics)
    _print_findings(analytics)
    outputs = default_output_dir(warehouse)
    for name, what in (
        ("report.html", "HTML report (opens with no network)"),
        ("process_map_performance.svg", "process map (milestones)"),
        ("process_map_business.svg", "process map (milestones, waits in business hours)"),
        ("process_map_with_touches_performance.svg", "process map with sales touches"),
        ("process_model.bpmn", "discovered process model (BPMN)"),
    ):
        if (outputs / name).exists():
            click.echo(f"{what}: {(outputs / name).resolve()}")
    click.echo(
        f"analytics file (open it read-only; core, mining and reports): {analytics.resolve()}"
    )


def _print_coverage(analytics: Path) -> None:
    """What the org's records do not hold, part by part (core.data_coverage)."""
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as con:
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
    from .outputs.answers import shown

    for kpi, value, unit, _, note in rows:
        figure = shown(value, unit) if value is not None else f"none: {note}"
        click.echo(f"  {kpi.replace('_', ' '):<32}{figure}")


def _print_findings(analytics: Path) -> None:
    """The strongest root cause of each outcome and the compliance picture, in a sentence each."""
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as con:
        cursor = con.execute(
            "SELECT kpi, attribute, value, cases, kpi_value, baseline, excess_cases, q_value "
            "FROM reports.root_causes WHERE is_root_cause AND rank_in_kpi = 1 ORDER BY kpi"
        )
        names = [d[0] for d in cursor.description]
        causes = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        violations = con.execute(
            "SELECT rule, count(DISTINCT case_id) FROM reports.compliance_violations "
            "WHERE severity = 'high' GROUP BY rule ORDER BY 2 DESC"
        ).fetchall()
    if causes:
        from .outputs.answers import root_cause_sentence

        click.echo("\nstrongest root causes (reports.root_causes, false discovery rate 5%):")
        for cause in causes:
            click.echo(f"  {root_cause_sentence(cause)}")
    if violations:
        listed = ", ".join(f"{rule.replace('_', ' ')} {cases:,}" for rule, cases in violations)
        click.echo(f"cases breaking high-severity rules (reports.compliance_violations): {listed}")


@main.command("run", epilog=settings_help())
@click.option(
    "--reconcile",
    is_flag=True,
    help="Also compare every object's record counts per month with the org now, and re-read "
    "the months whose counts differ (otherwise every L2C_RECONCILE_EVERY_DAYS).",
)
def run_command(reconcile: bool) -> None:
    """Materialize the whole graph once with the configured source (the nightly job)."""
    if reconcile:
        os.environ["L2C_RECONCILE_NOW"] = "1"
    outcome = _run_graph()
    _report_outcome(outcome)
    _print_loaded(outcome)


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
    """Run the pipeline on the built-in demo org and show what it loaded (with L2C_DEMO_AS_OF:
    the living demo org as of that time)."""
    from .resources import demo_org_folder, living_demo

    os.environ["L2C_SOURCE"] = "demo"
    os.environ["L2C_DEMO_LEADS"] = str(leads)
    os.environ["L2C_DEMO_SEED"] = str(seed)
    os.environ["L2C_ORG_SHAPE"] = shape
    os.environ.pop("L2C_MAPPING_FILE", None)  # the demo org is read with its own shape's mapping
    try:
        living = living_demo(
            *(os.environ.get(f"L2C_DEMO_{name}", "") for name in ("AS_OF", "HORIZON", "DRIFT"))
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    # The folder the run will read: a living org's is the same night after night, so the
    # warehouse that holds it is carried on, not started afresh.
    folder = demo_org_folder(shape, leads, seed, living and living["tag"])
    _start_afresh_after_another_demo_org(folder)
    when = f", as of {living['as_of']}" if living else ""
    click.echo(
        f"demo org ({shape}): {leads:,} leads, seed {seed}{when} ({folder}); "
        "extracting it over HTTPS ..."
    )
    outcome = _run_graph()
    _report_outcome(outcome)
    _print_loaded(outcome)
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
    from .warehouse.duckdb_warehouse import warehouse_files
    from .warehouse.run_lock import RunLock, RunLockTimeout

    lock = RunLock(warehouse)
    try:
        lock.acquire("demo", wait_seconds=0)
    except RunLockTimeout:
        return  # a run is writing it: this run waits for it, then refuses the other org
    try:
        click.echo(
            f"the warehouse {warehouse} held another demo org "
            f"({held.get('org_name') or held['org_id']}); starting it afresh for this one"
        )
        for path in warehouse_files(warehouse):
            path.unlink(missing_ok=True)
    finally:
        lock.release()


@main.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_command(yes: bool) -> None:
    """Empty the warehouse (L2C_WAREHOUSE): records, watermarks, KPI history and the source it
    holds, so the next run loads its source afresh. The published analytics file and outputs
    stay until that run replaces them."""
    from .warehouse.duckdb_warehouse import warehouse_files
    from .warehouse.run_lock import RunLock, RunLockTimeout

    warehouse = _warehouse_path()
    if not any(path.exists() for path in warehouse_files(warehouse)):
        click.echo(f"no warehouse at {warehouse}: nothing to reset")
        return
    lock = RunLock(warehouse)
    try:
        lock.acquire("reset", wait_seconds=0)
    except RunLockTimeout as error:
        holder = str(error).split(";")[0]
        raise click.ClickException(f"{holder}: reset when it has finished") from None
    try:
        _reset(warehouse, yes)
    finally:
        lock.release()


def _reset(warehouse: Path, yes: bool) -> None:
    import shutil

    import duckdb

    from .warehouse.duckdb_warehouse import warehouse_files
    from .warehouse.publish import staging_dir
    from .warehouse.source import held_source

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            held = held_source(con)
    except duckdb.Error:
        held = {}
    what = (
        f"org {held.get('org_name') or held['org_id']}"
        if held.get("org_id")
        else held.get("event_log_file") or "an unrecorded source"
    )
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("reset removes the warehouse: confirm with --yes")
        click.confirm(
            f"remove {warehouse} (the records of {what}, their watermarks and the KPI history)?",
            abort=True,
        )
    for path in warehouse_files(warehouse):
        path.unlink(missing_ok=True)
    shutil.rmtree(staging_dir(warehouse), ignore_errors=True)
    click.echo(f"removed {warehouse} (it held {what}); the next run loads its source afresh")


def _warehouse_path() -> Path:
    return Path(os.environ.get("L2C_WAREHOUSE") or _home() / "warehouse.duckdb")


@main.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Default: report.html in the output folder.",
)
def report_command(out: Path | None) -> None:
    """Write the HTML report (and the performance process maps: milestones in calendar and in
    business time, and with sales touches) from the analytics file, read-only: it works while
    the pipeline runs."""
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
        business = render(process_map(con, "business").dot, folder / "process_map_business")["svg"]
        touches = render(
            process_map(con, "performance", touches=True).dot,
            folder / "process_map_with_touches_performance",
        )["svg"]
        maps = {
            "milestones": svg.read_text(encoding="utf-8"),
            "milestones_business": business.read_text(encoding="utf-8"),
            "with_touches": touches.read_text(encoding="utf-8"),
        }
        path = write_report(con, out or folder / "report.html", maps)
    click.echo(f"HTML report: {path.resolve()}")


@main.command("explore", epilog=settings_help())
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Any address off the loopback requires the token (L2C_EXPLORE_TOKEN, "
    "else one made now and printed once); or keep 127.0.0.1 behind a reverse proxy (README).",
)
def explore_command(port: int, host: str) -> None:
    """Serve the interactive process explorer on the published analytics file (read-only: it
    never blocks a refresh, and picks up a newly published file without a restart)."""
    import logging
    import secrets

    import uvicorn

    from .explore.app import is_loopback, make_app
    from .explore.source import AnalyticsFileError, ExplorerSettingError, memory_limit
    from .warehouse.publish import default_analytics_path

    analytics = default_analytics_path(_warehouse_path())
    try:
        memory_limit()
    except ExplorerSettingError as error:
        raise click.ClickException(str(error)) from None
    token = None
    if not is_loopback(host):
        token = os.environ.get("L2C_EXPLORE_TOKEN") or secrets.token_urlsafe(24)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    click.echo(f"preparing {analytics} ...", err=True)
    try:
        explorer = make_app(analytics, host=host, token=token)
    except AnalyticsFileError as error:
        raise click.ClickException(str(error)) from None
    current = explorer.source.current
    click.echo(
        f"{current.events:,} events in {current.cases:,} cases, prepared in "
        f"{current.prepared_seconds:.1f} s",
        err=True,
    )
    config = uvicorn.Config(
        explorer,
        host=host,
        port=port,
        log_level="warning",
        use_colors=False,  # what l2c prints has its control characters escaped: no colour codes
        # h11, whose limit is set: the explorer answers a too-long address with its own message.
        http="h11",
        h11_max_incomplete_event_size=256 * 1024,
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{bound}/"
        if token is None:
            click.echo(f"explorer: {address} (Ctrl-C stops)", err=True)
        elif os.environ.get("L2C_EXPLORE_TOKEN"):
            click.echo(f"explorer: {address}?token=<L2C_EXPLORE_TOKEN> (Ctrl-C stops)", err=True)
        else:
            click.echo(
                f"explorer: {address}?token={token} (the token is printed only now)", err=True
            )

    original = server.startup

    async def startup(sockets=None):
        await original(sockets=sockets)
        announce()

    server.startup = startup
    try:
        server.run()
    finally:
        explorer.source.close()


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
    """Export the event log for other process-mining tools, from the published analytics file
    (read-only: it works while the pipeline runs)."""
    import duckdb

    from .outputs.exports import export_event_log, parse_formats
    from .warehouse.publish import default_analytics_path, default_output_dir

    try:
        chosen = parse_formats(formats)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--format") from None
    warehouse = _warehouse_path()
    analytics = default_analytics_path(warehouse)
    if not analytics.exists():
        raise click.ClickException(
            f"no analytics file at {analytics}: run `l2c run` (or `l2c demo`) first"
        )
    # The published file, read-only: the export shows what the report shows, and a running
    # pipeline is never in its way (nor it in the pipeline's).
    with duckdb.connect(str(analytics), read_only=True) as con:
        try:
            files = export_event_log(con, out or default_output_dir(warehouse), chosen)
        except duckdb.CatalogException as error:
            raise click.ClickException(
                f"{analytics} lacks a table the export needs ({str(error).splitlines()[0]}); it "
                "was published by an older version: run `l2c run` once to publish it anew"
            ) from None
    for fmt, path in files.items():
        click.echo(f"{fmt:<8}{path.resolve()}  ({path.stat().st_size:,} bytes)")


def entry_point() -> None:
    """The `l2c` executable: the command, then an exit that cannot undo it.

    A thread left inside DuckDB's C++ code (a server's request, a library's helper) when the
    interpreter finalizes is killed there, and the process aborts ("FATAL: exception not
    rethrown", exit -6) after all its work was done. So connections are collected and threads
    given a moment while Python is whole; if a daemon thread still runs, the exit handlers run
    and the process leaves without finalizing."""
    import atexit
    import gc
    import threading

    from .terminal_log import print_only_printable

    print_only_printable()
    try:
        main()  # click ends by raising SystemExit, with or without an error
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    if code is not None and not isinstance(code, int):
        click.echo(code, err=True)
        code = 1
    gc.collect()
    deadline = time.monotonic() + 5
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    for thread in others:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() and thread.daemon for thread in others):
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()

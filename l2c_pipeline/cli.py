"""The `l2c` command."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import time
from pathlib import Path

import click

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
    type=click.IntRange(1, 1_000_000),
    default=2000,
    show_default=True,
    help="Number of leads (100 to 1,000,000 is the intended range).",
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
def generate_command(
    leads: int, seed: int, out: Path, as_of: str | None, workers: int | None
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
def catalogue_command() -> None:
    """Print the default object catalogue (Markdown), as in the README."""
    from .demo_org.catalogue import catalogue_markdown

    click.echo(catalogue_markdown())


@main.command("demo")
@click.option("--leads", type=click.IntRange(100, 1_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def demo_command(leads: int, seed: int) -> None:
    """Generate a demo org, serve it, and read every object back through simple-salesforce."""
    from simple_salesforce import Salesforce

    from .demo_org.generator import generate
    from .demo_org.server import DemoOrgServer
    from .salesforce.http import PinnedCASession

    folder = _home() / f"demo-org-{leads}-{seed}"
    if not (folder / "org.json").exists():
        click.echo(f"generating a demo org with {leads:,} leads (seed {seed}) in {folder} ...")
        generate(folder, leads=leads, seed=seed, progress=lambda m: click.echo(f"  {m}"))
    with DemoOrgServer(folder, work_dir=_home() / "demo-org-tls") as server:
        expected = server.store.row_counts()
        click.echo(f"demo org serving at {server.instance_url}; reading it back over HTTPS ...")
        sf = Salesforce(
            instance_url=server.instance_url,
            session_id=server.access_token,
            session=PinnedCASession(server.ca_bundle),
        )
        names = [o["name"] for o in sf.describe()["sobjects"]]
        mismatches = 0
        click.echo(f"{'object':<28}{'fields':>7}{'records':>10}  check")
        for name in names:
            fields = len(getattr(sf, name).describe()["fields"])
            count = sf.query(f"SELECT COUNT() FROM {name}")["totalSize"]
            ok = count == expected[name]
            mismatches += not ok
            click.echo(
                f"{name:<28}{fields:>7}{count:>10,}  {'ok' if ok else f'expected {expected[name]:,}'}"
            )
        rest_leads = sum(1 for _ in sf.query_all_iter("SELECT Id, Status, CreatedDate FROM Lead"))
        bulk_leads = sum(
            len(list(csv.reader(io.StringIO(page)))) - 1
            for page in sf.bulk2.Lead.query(
                "SELECT Id, Status, CreatedDate FROM Lead", max_records=5000, wait=0.2
            )
        )
        click.echo(
            f"Lead records paged over REST: {rest_leads:,}; over Bulk API 2.0: {bulk_leads:,}"
        )
        usage = sf.api_usage.get("api-usage")
        if usage:
            click.echo(f"API calls used: {usage.used} of {usage.total}")
        if mismatches or rest_leads != expected["Lead"] or bulk_leads != expected["Lead"]:
            raise click.ClickException(
                "the demo org round trip lost or invented records (see above)"
            )
    truths = json.loads((folder / "truths.json").read_text(encoding="utf-8"))["truths"]
    click.echo(f"\nround trip ok. {len(truths)} planted truths in {folder / 'truths.json'}, e.g.:")
    for truth in truths[:3]:
        click.echo(f"  - {truth['statement']}")


if __name__ == "__main__":
    main()

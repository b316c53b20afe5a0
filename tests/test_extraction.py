"""Incremental extraction against the demo org over HTTPS: raw tables equal the org, row by row,
after mutations, faults, late commits, the API limit and a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from l2c_pipeline.demo_org.api import Credentials
from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.salesforce.catalogue import CatalogueError, ObjectSpec, load_catalogue
from l2c_pipeline.salesforce.client import ApiLimitExceeded, SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings, sync_options
from l2c_pipeline.salesforce.sync import sync_object
from l2c_pipeline.warehouse.duckdb_warehouse import connect

BULK_THRESHOLD = 3000  # small, so the bigger objects of a small org go through Bulk API 2.0


@pytest.fixture()
def server(small_org, tmp_path):
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls") as running:
        yield running


@pytest.fixture()
def warehouse(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def make_client(server: DemoOrgServer, **overrides: str) -> SalesforceClient:
    return SalesforceClient(
        SalesforceSettings.from_env({**server.environment(), "SF_MAX_RETRIES": "6", **overrides}),
        on_retry=lambda message: None,
    )


def sync_all(server, con, client=None, **options):
    client = client or make_client(server)
    options.setdefault("bulk_threshold", BULK_THRESHOLD)
    return {
        spec.name: sync_object(client, con, spec, **options)
        for spec in load_catalogue(list(server.store.objects))
    }


def org_rows(server: DemoOrgServer, name: str) -> list[tuple]:
    fields = list(server.store.objects[name].fields)
    columns = ", ".join(f'"{f}"' for f in fields)
    with server.store.lock:
        return server.store.con.execute(f'SELECT {columns} FROM "{name}" ORDER BY Id').fetchall()


def raw_rows(con, server: DemoOrgServer, name: str) -> list[tuple]:
    columns = ", ".join(f'"{f}"' for f in server.store.objects[name].fields)
    return con.execute(f'SELECT {columns} FROM raw."{name}" ORDER BY Id').fetchall()


def assert_raw_equals_org(
    server, con, *, kept_after_purge: dict[str, set] | None = None, objects=None
) -> None:
    """Every raw table holds exactly the org's records (deleted ones flagged), plus purged history."""
    kept_after_purge = kept_after_purge or {}
    for name in objects or server.store.objects:
        org, raw = org_rows(server, name), raw_rows(con, server, name)
        kept = kept_after_purge.get(name, set())
        raw_ids = [r[0] for r in raw]
        assert len(raw_ids) == len(set(raw_ids)), f"raw.{name} has duplicate Ids"
        assert [r for r in raw if r[0] not in kept] == org, f"raw.{name} differs from the org"
        assert {r[0] for r in raw} - {r[0] for r in org} == kept, f"raw.{name} lost purged history"


def test_initial_then_incremental_loads_equal_the_org(server, warehouse):
    client = make_client(server)
    first = sync_all(server, warehouse, client)
    assert_raw_equals_org(server, warehouse)
    assert {"rest", "bulk"} == {r.method for r in first.values()}
    assert first["Task"].method == "bulk" and first["Lead"].deleted > 0

    # The org moves on: new lead with history, stage changes, a deletion, history purged.
    history_before = {r[0] for r in org_rows(server, "OpportunityFieldHistory")}
    opps = [r[0] for r in org_rows(server, "Opportunity")[:5]]
    task = org_rows(server, "Task")[0][0]
    server.api.apply(
        {
            "advance_seconds": 86400,
            "insert": {
                "Lead": [
                    {
                        "LastName": "Nightly",
                        "Company": "Delta plc",
                        "Status": "Open - Not Contacted",
                    }
                ]
            },
            "update": {"Opportunity": [{"Id": i, "StageName": "Negotiation/Review"} for i in opps]},
            "delete": {"Task": [task]},
        }
    )
    last_name = list(server.store.objects["Lead"].fields).index("LastName")
    lead = next(r[0] for r in org_rows(server, "Lead") if r[last_name] == "Nightly")
    server.api.apply(
        {
            "insert": {"LeadHistory": [{"LeadId": lead, "Field": "created", "DataType": "Text"}]},
            "purge_history_months": 18,
            "touch_fraction": 0.01,
            "seed": 3,
        }
    )
    purged = history_before - {r[0] for r in org_rows(server, "OpportunityFieldHistory")}
    assert purged  # the org really lost history

    calls = client.api_calls
    second = sync_all(server, warehouse, client)
    assert_raw_equals_org(
        server,
        warehouse,
        kept_after_purge={"OpportunityFieldHistory": purged} | _purged_elsewhere(server, warehouse),
    )
    assert (
        second["Opportunity"].updated >= 5
        and second["Lead"].inserted == 1
        and second["Task"].deleted == 1
    )
    assert all(r.method == "rest" for r in second.values())  # small changes: REST, not Bulk jobs
    # The issue's budget: no more than (objects + changed rows / 2000) calls for an incremental load.
    changed = sum(r.rows_read for r in second.values())
    assert client.api_calls - calls <= len(second) + changed // 2000


def _purged_elsewhere(server, con) -> dict[str, set]:
    """History rows of other objects that the purge removed from the org but raw keeps."""
    kept = {}
    for name, meta in server.store.objects.items():
        if meta.is_field_history and name != "OpportunityFieldHistory":
            org_ids = {r[0] for r in org_rows(server, name)}
            raw_ids = {r[0] for r in con.execute(f'SELECT Id FROM raw."{name}"').fetchall()}
            if raw_ids - org_ids:
                kept[name] = raw_ids - org_ids
    return kept


@pytest.mark.parametrize(
    "fault",
    [
        "503@query#2",
        "500@query_more#1",
        "503@bulk_results#1",
        "500@bulk#2",
        "drop@query_more#1",
        "drop@bulk_results#1",
        "slow@query#4=4",
        "expire@any#7",
    ],
)
def test_each_fault_then_a_normal_run_leaves_raw_equal_to_the_org(server, warehouse, fault):
    server.api.add_faults(fault)
    client = make_client(server, SF_TIMEOUT_SECONDS="2")
    sync_all(server, warehouse, client)  # survives the fault through retries / a new login
    fired = [f for f in server.api.faults.describe() if f["fired"]]
    assert fired, f"{fault} never fired: the test would prove nothing"
    server.api.apply({"advance_seconds": 3600, "touch_fraction": 0.02, "seed": 9})
    sync_all(server, warehouse)
    assert_raw_equals_org(server, warehouse)
    if fault.startswith("expire"):
        assert client.relogins == 1


def test_late_commit_inside_the_overlap_window_is_caught(server, warehouse, tmp_path):
    server.api.add_faults("late@Opportunity=120")
    sync_all(server, warehouse)
    late = [f for f in server.api.faults.describe() if f["kind"] == "late"][0]
    assert late["fired"]
    sync_all(server, warehouse)
    assert_raw_equals_org(server, warehouse)

    # The same late commit without an overlap window is lost: the window is what saves it.
    with DemoOrgServer(
        server.store.folder, work_dir=tmp_path / "tls2", faults="late@Opportunity=120"
    ) as other:
        con = connect(tmp_path / "no-overlap.duckdb")
        sync_all(other, con, overlap_seconds=0)
        sync_all(other, con, overlap_seconds=0)
        missing = {r[0] for r in org_rows(other, "Opportunity")} - {
            r[0] for r in raw_rows(con, other, "Opportunity")
        }
        con.close()
        assert len(missing) == 1


def test_calls_that_time_out_count_as_calls(server, warehouse):
    """Salesforce counts a call it received, answered or not: so does the client."""
    server.api.add_faults("slow@query#1=4")
    client = make_client(server, SF_TIMEOUT_SECONDS="1")
    retried = []
    client.on_retry = retried.append
    result = sync_object(client, warehouse, ObjectSpec("UserRole"))
    assert len(retried) == 1 and "ReadTimeout" in retried[0]
    assert result.api_calls == client.api_calls == server.api.api_calls == 3  # describe, 2 queries


def test_a_commit_an_hour_late_is_recovered_by_the_reconciliation(server, warehouse):
    """Later than any overlap: the incremental sync cannot see it; the monthly counts can."""
    opportunity = next(s for s in load_catalogue(["Opportunity"]))
    client = make_client(server)
    sync_object(client, warehouse, opportunity)
    server.api.add_faults("late@Opportunity=3600")
    sync_object(client, warehouse, opportunity)  # its query releases the late record
    assert [f for f in server.api.faults.describe() if f["kind"] == "late"][0]["fired"]
    server.api.apply({"advance_seconds": 600})
    missed = sync_object(client, warehouse, opportunity)  # a normal nightly: overlap 10 min
    assert missed.reconciled is None  # reconciled at the first sync: not due for a week
    in_org = {r[0] for r in org_rows(server, "Opportunity")}
    stored = {r[0] for r in raw_rows(warehouse, server, "Opportunity")}
    late_ids = in_org - stored
    assert len(late_ids) == 1  # lost to the incremental sync

    calls = client.api_calls
    found = sync_object(client, warehouse, opportunity, reconcile_now=True)
    assert found.reconciled.recovered == 1 and len(found.reconciled.months_reread) == 1
    assert found.inserted == 1
    assert any("committed later than the sync overlap" in w for w in found.warnings)
    # One incremental query, one aggregate count, one re-read month.
    assert client.api_calls - calls == 3
    assert_raw_equals_org(server, warehouse, objects=["Opportunity"])
    assert warehouse.execute(
        "SELECT months_reread, records_recovered FROM meta.reconcile_state "
        "WHERE object_name = 'Opportunity'"
    ).fetchone() == (1, 1)
    # Nothing left to find: the next reconciliation re-reads nothing.
    again = sync_object(client, warehouse, opportunity, reconcile_now=True)
    assert again.reconciled.recovered == 0 and again.reconciled.months_reread == []


def test_a_longer_overlap_setting_catches_the_late_commit_without_reconciling(server, warehouse):
    opportunity = next(s for s in load_catalogue(["Opportunity"]))
    client = make_client(server)
    sync_object(client, warehouse, opportunity)
    server.api.add_faults("late@Opportunity=3600")
    sync_object(client, warehouse, opportunity)
    overlap = sync_options({"L2C_SYNC_OVERLAP_MINUTES": "90"})
    assert overlap["overlap_seconds"] == 5400
    caught = sync_object(client, warehouse, opportunity, **overlap)
    assert caught.inserted == 1 and caught.reconciled is None
    assert_raw_equals_org(server, warehouse, objects=["Opportunity"])


def test_rows_reread_in_the_overlap_without_change_are_not_updates(server, warehouse):
    client = make_client(server)
    sync_all(server, warehouse, client)
    server.api.apply({"advance_seconds": 60})  # the overlap re-reads the newest records
    unchanged = sync_all(server, warehouse, client)
    assert sum(r.rows_read for r in unchanged.values()) > 0
    assert sum(r.updated for r in unchanged.values()) == 0
    assert sum(r.inserted for r in unchanged.values()) == 0
    opportunity = next(r[0] for r in org_rows(server, "Opportunity"))
    server.api.apply({"update": {"Opportunity": [{"Id": opportunity, "StageName": "Closed Lost"}]}})
    changed = sync_all(server, warehouse, client)
    assert changed["Opportunity"].updated == 1


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("L2C_SYNC_OVERLAP_MINUTES", "-5", "L2C_SYNC_OVERLAP_MINUTES must be a number of minutes"),
        ("L2C_SYNC_OVERLAP_MINUTES", "nan", "L2C_SYNC_OVERLAP_MINUTES must be a number of minutes"),
        (
            "L2C_RECONCILE_EVERY_DAYS",
            "weekly",
            "L2C_RECONCILE_EVERY_DAYS must be a number of days or never",
        ),
    ],
)
def test_sync_settings_refuse_bad_values_in_one_line(variable, value, message):
    from l2c_pipeline.salesforce.settings import SettingsError

    with pytest.raises(SettingsError, match=message):
        sync_options({variable: value})
    assert sync_options({"L2C_RECONCILE_EVERY_DAYS": "never"})["reconcile_every_days"] is None
    assert sync_options({}) == {
        "overlap_seconds": 600,
        "reconcile_every_days": 7.0,
        "reconcile_now": False,
    }


def test_request_limit_stops_cleanly_keeps_rows_and_the_next_run_resumes(server, warehouse):
    server.api.add_faults("limit=40")
    with pytest.raises(
        ApiLimitExceeded, match=r"API request limit reached \(DailyApiRequests: 40/40"
    ):
        sync_all(server, warehouse)
    stored = warehouse.execute(
        "SELECT count(*) FROM meta.sync_state WHERE watermark IS NOT NULL"
    ).fetchone()[0]
    assert 0 < stored < len(server.store.objects)
    log = warehouse.execute(
        "SELECT status, message FROM meta.sync_log WHERE status = 'stopped'"
    ).fetchall()
    assert len(log) == 1 and "next run resumes" in log[0][1]
    server.api.add_faults("limit=100000")  # tomorrow's budget
    sync_all(server, warehouse)
    assert_raw_equals_org(server, warehouse)


def test_sync_killed_mid_page_then_rerun_is_exact(server, tmp_path):
    database = tmp_path / "killed.duckdb"
    environment = server.environment()
    script = textwrap.dedent(f"""
        from l2c_pipeline.salesforce.catalogue import ObjectSpec
        from l2c_pipeline.salesforce.client import SalesforceClient
        from l2c_pipeline.salesforce.settings import SalesforceSettings, sync_options
        from l2c_pipeline.salesforce.sync import sync_object
        from l2c_pipeline.warehouse.duckdb_warehouse import connect
        client = SalesforceClient(SalesforceSettings.from_env({environment!r}))
        con = connect({str(database)!r})
        sync_object(client, con, ObjectSpec("Task"), bulk_threshold=10**9)
    """)
    server.api.add_faults("slow@query_more#2=60")  # the third page hangs: the kill lands mid-sync
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while (
            not any(f["fired"] for f in server.api.faults.describe())
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert process.poll() is None, "the sync ended before it could be killed"
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    con = connect(database)
    try:
        stored = con.execute('SELECT count(*) FROM raw."Task"').fetchone()[0]
        assert 0 < stored < len(org_rows(server, "Task"))  # killed half-way, committed pages intact
        server.api.faults.clear()
        sync_object(make_client(server), con, ObjectSpec("Task"), bulk_threshold=10**9)
        assert raw_rows(con, server, "Task") == org_rows(server, "Task")
    finally:
        con.close()


def test_missing_objects_and_fields_are_warnings_not_crashes(server, warehouse):
    client = make_client(server)
    absent = sync_object(client, warehouse, ObjectSpec("Widget__c"))
    assert absent.status == "skipped" and "no object Widget__c" in absent.warnings[0]
    partial = sync_object(
        client, warehouse, ObjectSpec("Opportunity", fields=("Name", "Amount", "Region__c"))
    )
    assert partial.status == "synced" and "Region__c" in partial.warnings[0]
    assert warehouse.execute('SELECT count(*) FROM raw."Opportunity"').fetchone()[0] == len(
        org_rows(server, "Opportunity")
    )


def test_rest_takes_over_when_bulk_refuses_the_object(server, warehouse):
    server.api.add_faults("nobulk@Task")
    result = sync_object(make_client(server), warehouse, ObjectSpec("Task"), bulk_threshold=10)
    assert result.method == "rest" and "refuses Task" in result.warnings[0]
    assert raw_rows(warehouse, server, "Task") == org_rows(server, "Task")


@pytest.mark.parametrize(
    "config, message",
    [
        ("objects:\n  - name: 'Lead; DROP TABLE x'\n", "is not a valid Salesforce API name"),
        ("objects:\n  - name: Lead\n    fields: [Id, 'Name)']\n", "field 'Name)' is not a valid"),
        (
            "objects:\n  - name: Lead\n    where: \"Status = 'x' OR Id IN (SELECT Id FROM Lead)\"\n",
            "'SELECT' is not allowed",
        ),
        ("objects:\n  - name: Lead\n    where: \"Status = 'x'; DELETE\"\n", "unexpected ';"),
        ("objects:\n  - name: Lead___c\n", "is not a valid Salesforce API name"),
        ("objects:\n  - nam: Lead\n", "needs a 'name'"),
        ("objects: [\n", "not valid YAML"),
    ],
)
def test_bad_identifiers_in_config_are_rejected_before_any_query(tmp_path, config, message):
    path = tmp_path / "objects.yaml"
    path.write_text(config, encoding="utf-8")
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_catalogue(["Lead", "Task", "Event"], path)


def test_config_adds_restricts_filters_and_excludes_objects(tmp_path):
    path = tmp_path / "objects.yaml"
    path.write_text(
        textwrap.dedent("""
        objects:
          - name: Widget__c
          - name: Task
            where: "Type IN ('Call', 'Email') AND CreatedDate > 2025-01-01T00:00:00Z"
          - name: Event
            exclude: true
          - name: Opportunity
            fields: [StageName, Amount]
    """),
        encoding="utf-8",
    )
    specs = {s.name: s for s in load_catalogue(["Lead", "Opportunity", "Task", "Event"], path)}
    assert "Widget__c" in specs and "Event" not in specs
    assert specs["Opportunity"].fields == ("StageName", "Amount")
    assert specs["Task"].where.startswith("Type IN")


def test_secrets_never_appear_in_logs_metadata_tables_or_errors(small_org, tmp_path, capfd, caplog):
    from dagster import DagsterInstance, materialize

    from l2c_pipeline.resources import SalesforceResource, WarehouseResource
    from l2c_pipeline.salesforce.assets import raw_object_asset

    canaries = Credentials(
        client_id="3MVGcanaryCLIENTID4c1",
        client_secret="CANARY-secret-7f3a9d",
        username="canary@l2c.example",
        password="CANARY-password-91x",
        security_token="CANARYtoken55z",
    )
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls", credentials=canaries) as running:
        env = running.environment()
        secrets = [
            canaries.client_secret,
            canaries.password,
            canaries.security_token,
            running.access_token,
        ]

        def salesforce(client_secret: str) -> SalesforceResource:
            return SalesforceResource(
                source="salesforce",
                instance_url=env["SF_INSTANCE_URL"],
                domain=env["SF_DOMAIN"],
                client_id=canaries.client_id,
                client_secret=client_secret,
                username=canaries.username,
                password=canaries.password,
                security_token=canaries.security_token,
                ca_bundle=env["SF_CA_BUNDLE"],
            )

        resource = salesforce(canaries.client_secret)
        assets = [raw_object_asset(ObjectSpec(name)) for name in ("Lead", "Opportunity", "Task")]
        warehouse = WarehouseResource(path=str(tmp_path / "secret.duckdb"))
        with DagsterInstance.ephemeral() as instance:
            good = materialize(
                assets,
                resources={"salesforce": resource, "warehouse": warehouse},
                instance=instance,
            )
            assert good.success
            issued = list(running.api._tokens)
            wrong = salesforce("CANARY-wrong-secret-0b")
            bad = materialize(
                assets,
                resources={"salesforce": wrong, "warehouse": warehouse},
                instance=instance,
                raise_on_error=False,
            )
            assert not bad.success
            records = [
                str(record) for run in (good, bad) for record in instance.all_logs(run.run_id)
            ]
        failures = [
            str(e.step_failure_data.error)
            for e in bad.all_events
            if e.event_type_value == "STEP_FAILURE"
        ]
        assert failures and "refused the password login" in failures[0]
    captured = capfd.readouterr()
    con = duckdb.connect(str(tmp_path / "secret.duckdb"))
    table_text = []
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR'"
    ).fetchall():
        table_text += [
            v
            for (v,) in con.execute(
                f'SELECT DISTINCT "{column}" FROM {schema}."{table}"'
            ).fetchall()
            if v
        ]
    con.close()
    haystacks = {
        "stdout/stderr": captured.out + captured.err,
        "python logs": caplog.text,
        "dagster event log": "\n".join(records),
        "failure messages": "\n".join(failures),
        "warehouse tables": "\n".join(table_text),
    }
    assert len(haystacks["dagster event log"]) > 1000  # there is something to search
    for secret in [*secrets, "CANARY-wrong-secret-0b", *issued]:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret leaked into {where}"


def test_settings_never_print_secrets():
    settings = SalesforceSettings.from_env(
        {
            "SF_INSTANCE_URL": "https://example.my.salesforce.com",
            "SF_ACCESS_TOKEN": "00Dsecret!token",
            "SF_CLIENT_SECRET": "shh",
        }
    )
    assert "00Dsecret" not in repr(settings) and "shh" not in repr(settings)
    assert settings.describe()["access_token"] == "set"


def test_incomplete_login_settings_name_the_variables():
    with pytest.raises(ValueError, match="SF_INSTANCE_URL and SF_ACCESS_TOKEN"):
        SalesforceSettings.from_env({"SF_USERNAME": "someone"})
    with pytest.raises(ValueError, match="SF_TIMEOUT_SECONDS must be a number"):
        SalesforceSettings.from_env({"SF_TIMEOUT_SECONDS": "soon"})


def test_dagster_definitions_reject_a_bad_objects_file(tmp_path):
    path = tmp_path / "objects.yaml"
    path.write_text("objects:\n  - name: 'bad name'\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "L2C_OBJECTS_FILE": str(path)},
    )
    assert result.returncode != 0
    assert (
        "objects[1]: object 'bad name' is not a valid Salesforce API name"
        in result.stdout + result.stderr
    )


def test_stale_describe_cache_is_refreshed_when_the_org_changed(server, warehouse):
    client = make_client(server)
    sync_object(client, warehouse, ObjectSpec("Account"))
    # Pretend the cached describe knows a field the org has since deleted.
    cached = json.loads(
        warehouse.execute(
            "SELECT fields FROM meta.describe_cache WHERE object_name = 'Account'"
        ).fetchone()[0]
    )
    warehouse.execute(
        "UPDATE meta.describe_cache SET fields = ? WHERE object_name = 'Account'",
        [json.dumps({**cached, "Retired__c": "string"})],
    )
    again = sync_object(client, warehouse, ObjectSpec("Account"))
    assert again.status == "synced" and "changed in the org" in again.warnings[0]
    assert "Retired__c" not in {
        c
        for (c,) in warehouse.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'Account'"
        ).fetchall()
    }
    assert (
        "Retired__c"
        not in warehouse.execute(
            "SELECT fields FROM meta.describe_cache WHERE object_name = 'Account'"
        ).fetchone()[0]
    )
    # A configured field the cache lacks (added to the org since) makes it describe again first.
    cached = json.loads(
        warehouse.execute(
            "SELECT fields FROM meta.describe_cache WHERE object_name = 'Account'"
        ).fetchone()[0]
    )
    del cached["Segment__c"]
    warehouse.execute(
        "UPDATE meta.describe_cache SET fields = ? WHERE object_name = 'Account'",
        [json.dumps(cached)],
    )
    calls = client.api_calls
    sync_object(client, warehouse, ObjectSpec("Account", fields=("Name", "Segment__c")))
    assert client.api_calls - calls == 2  # describe + one query
    assert raw_rows(warehouse, server, "Account") == org_rows(server, "Account")


def test_jwt_bearer_login(server, warehouse, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from l2c_pipeline.salesforce.client import AuthenticationFailed

    env = server.environment()

    def jwt_settings(key_file: Path) -> SalesforceSettings:
        return SalesforceSettings.from_env(
            {
                "SF_INSTANCE_URL": env["SF_INSTANCE_URL"],
                "SF_DOMAIN": env["SF_DOMAIN"],
                "SF_CA_BUNDLE": env["SF_CA_BUNDLE"],
                "SF_CLIENT_ID": env["SF_CLIENT_ID"],
                "SF_USERNAME": env["SF_USERNAME"],
                "SF_JWT_PRIVATE_KEY_FILE": str(key_file),
            }
        )

    settings = jwt_settings(server.jwt_private_key_file)
    assert settings.auth_mode() == "jwt"
    result = sync_object(SalesforceClient(settings), warehouse, ObjectSpec("UserRole"))
    assert result.rows_read == len(org_rows(server, "UserRole"))

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(
        AuthenticationFailed, match=r"refused the jwt login .*invalid_grant: invalid assertion"
    ):
        SalesforceClient(jwt_settings(stranger))


def test_expired_session_with_only_a_token_says_what_to_configure(server, warehouse):
    from l2c_pipeline.salesforce.client import AuthenticationFailed

    env = server.environment()
    client = SalesforceClient(
        SalesforceSettings.from_env(
            {k: env[k] for k in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_CA_BUNDLE")}
        )
    )
    server.api.add_faults("expire@any#1")
    # Refused at the first call: the token is wrong or expired, and a login would mend it.
    with pytest.raises(
        AuthenticationFailed, match="SF_ACCESS_TOKEN.*wrong or has expired.*set SF_CLIENT_ID"
    ):
        sync_object(client, warehouse, ObjectSpec("UserRole"))
    # Accepted, then expired mid-run: the same way out, said as what happened.
    fresh = {k: env[k] for k in ("SF_INSTANCE_URL", "SF_CA_BUNDLE")}
    client = SalesforceClient(
        SalesforceSettings.from_env({**fresh, "SF_ACCESS_TOKEN": server.api.issue_token()})
    )
    server.api.add_faults("expire@any#2")
    with pytest.raises(
        AuthenticationFailed, match="only SF_ACCESS_TOKEN is configured; set SF_CLIENT_ID"
    ):
        sync_object(client, warehouse, ObjectSpec("UserRole"))

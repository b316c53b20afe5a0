"""The demo org server, driven by simple-salesforce over HTTPS on loopback (the real network stack)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import ssl
import time
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.demo_org.store import OrgStore, SnapshotError
from l2c_pipeline.salesforce.http import PinnedCASession


@pytest.fixture()
def server(small_org, tmp_path):
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls") as running:
        yield running


def client(server: DemoOrgServer, **kwargs) -> Salesforce:
    return Salesforce(
        instance_url=server.instance_url,
        session_id=server.access_token,
        session=PinnedCASession(server.ca_bundle),
        **kwargs,
    )


def csv_ids(path: Path, where=lambda r: True) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return sorted(r["Id"] for r in csv.DictReader(handle) if where(r))


def test_oauth_client_credentials_and_password_flows(server):
    creds = server.credentials
    session = PinnedCASession(server.ca_bundle)
    url = f"{server.instance_url}/services/oauth2/token"
    answer = session.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        timeout=10,
    ).json()
    assert answer["instance_url"] == server.instance_url
    sf = Salesforce(
        instance_url=answer["instance_url"], session_id=answer["access_token"], session=session
    )
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0
    answer = session.post(
        url,
        data={
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": creds.password + creds.security_token,
        },
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["access_token"]
    wrong = session.post(
        url,
        data={
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": "not-it",
        },
        timeout=10,
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    bad_client = session.post(
        url,
        data={"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
        timeout=10,
    )
    assert bad_client.json()["error"] == "invalid_client_id"


def test_describe_lists_objects_and_typed_fields(server):
    sf = client(server)
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Lead", "Opportunity", "OpportunityFieldHistory", "blng__Invoice__c"} <= names
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["CloseDate"]["type"] == "date" and fields["SystemModstamp"]["type"] == "datetime"
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["Amount"]["filterable"]
    assert not fields["Amount"]["custom"]
    invoice = {f["name"]: f for f in sf.blng__Invoice__c.describe()["fields"]}
    assert invoice["blng__DueDate__c"]["custom"] and invoice["blng__DueDate__c"]["type"] == "date"
    quote = {f["name"]: f for f in sf.SBQQ__Quote__c.describe()["fields"]}
    assert quote["SBQQ__Opportunity2__c"]["referenceTo"] == ["Opportunity"]


def test_query_pages_through_every_record_in_order(server, small_org):
    sf = client(server)
    first = sf.query("SELECT Id, SystemModstamp FROM Task ORDER BY SystemModstamp, Id")
    assert first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    records = list(
        sf.query_all_iter(
            "SELECT Id, SystemModstamp, Subject FROM Task ORDER BY SystemModstamp, Id"
        )
    )
    assert len(records) > 4000  # several pages
    keys = [(r["SystemModstamp"], r["Id"]) for r in records]
    assert keys == sorted(keys)
    assert records[0]["SystemModstamp"].endswith(".000+0000")
    assert sorted(r["Id"] for r in records) == csv_ids(
        small_org / "Task.csv", lambda r: r["IsDeleted"] == "false"
    )


def test_query_all_returns_deleted_records_flagged(server, small_org):
    sf = client(server)
    visible = {r["Id"] for r in sf.query_all("SELECT Id FROM Lead")["records"]}
    everything = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    deleted = {r["Id"] for r in everything if r["IsDeleted"] is True}
    assert deleted and not deleted & visible
    assert sorted(r["Id"] for r in everything) == csv_ids(small_org / "Lead.csv")


def test_where_filters_on_datetimes_ids_and_or(server, small_org):
    sf = client(server)
    with open(small_org / "Opportunity.csv", encoding="utf-8") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["IsDeleted"] == "false"
        ]  # query, not queryAll
    cut = sorted(r["SystemModstamp"] for r in rows)[len(rows) // 2]
    expected = sorted(
        r["Id"]
        for r in rows
        if r["SystemModstamp"] > cut
        or (r["SystemModstamp"] == cut and r["StageName"] == "Closed Won")
    )
    result = sf.query_all(
        f"SELECT Id FROM Opportunity WHERE SystemModstamp > {cut} OR "
        f"(SystemModstamp = {cut} AND StageName = 'closed won') ORDER BY Id"
    )
    assert [r["Id"] for r in result["records"]] == expected
    some_id = expected[0]
    assert sf.query(f"SELECT Id FROM Opportunity WHERE Id > '{some_id}' LIMIT 5")["totalSize"] == 5
    assert sf.query(f"SELECT COUNT() FROM Opportunity WHERE Id IN ('{some_id}')")["totalSize"] == 1


def test_bulk_2_results_equal_the_snapshot(server, small_org):
    sf = client(server)
    pages = list(
        sf.bulk2.Task.query(
            "SELECT Id, IsDeleted, CompletedDateTime FROM Task", max_records=1500, wait=0.1
        )
    )
    assert len(pages) > 2
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert sorted(r["Id"] for r in rows) == csv_ids(
        small_org / "Task.csv", lambda r: r["IsDeleted"] == "false"
    )
    assert rows[0]["CompletedDateTime"].endswith(".000Z")
    all_pages = list(sf.bulk2.Lead.query_all("SELECT Id, IsDeleted FROM Lead", wait=0.1))
    rows = [r for page in all_pages for r in csv.DictReader(io.StringIO(page))]
    assert {r["IsDeleted"] for r in rows} == {"true", "false"}


def test_errors_arrive_as_the_same_simple_salesforce_exceptions(server):
    sf = client(server)
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Lead WHERE")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as invalid_field:
        sf.query("SELECT Id, Nope__c FROM Lead")
    assert invalid_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Nope__c' on entity 'Lead'" in invalid_field.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as invalid_type:
        sf.query("SELECT Id FROM Nothing__c")
    assert invalid_type.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as quoted_datetime:
        sf.query("SELECT Id FROM Lead WHERE CreatedDate > '2025-01-01T00:00:00Z'")
    assert (
        "must be of type dateTime and should not be enclosed in quotes"
        in quoted_datetime.value.content[0]["message"]
    )
    with pytest.raises(SalesforceMalformedRequest) as bad_id:
        sf.query("SELECT Id FROM Lead WHERE Id = 'x; DROP TABLE Lead'")
    assert bad_id.value.content[0]["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    stale = Salesforce(
        instance_url=server.instance_url,
        session_id="00Dfake!token",
        session=PinnedCASession(server.ca_bundle),
    )
    with pytest.raises(SalesforceExpiredSession):
        stale.query("SELECT Id FROM Lead")
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 0  # still serving


def test_client_without_the_ca_bundle_fails_tls(server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.instance_url}/services/data/", timeout=10)


def test_configured_ca_bundle_wins_over_requests_ca_bundle(server, monkeypatch):
    # The machine's REQUESTS_CA_BUNDLE names the system store, which does not trust the demo CA.
    monkeypatch.setenv(
        "REQUESTS_CA_BUNDLE",
        ssl.get_default_verify_paths().openssl_cafile or "/etc/ssl/certs/ca-certificates.crt",
    )
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(requests.exceptions.SSLError):
        requests.Session().get(f"{server.instance_url}/services/data/", timeout=10)
    assert (
        PinnedCASession(server.ca_bundle)
        .get(f"{server.instance_url}/services/data/", timeout=10)
        .ok
    )


def test_limits_header_and_request_limit_exceeded(server):
    sf = client(server)
    sf.query("SELECT COUNT() FROM Lead")
    used = sf.api_usage["api-usage"].used
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    server.api.add_faults(f"limit={used + 2}")
    sf.query("SELECT COUNT() FROM Lead")  # the last call within budget
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT COUNT() FROM Lead")
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_http_500_and_503_faults(server):
    sf = client(server)
    server.api.add_faults("503@query#1,500@query#2")
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.query("SELECT COUNT() FROM Lead")
    assert unavailable.value.status == 503
    with pytest.raises(SalesforceGeneralError) as failed:
        sf.query("SELECT COUNT() FROM Lead")
    assert failed.value.status == 500
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_slow_response_beats_the_client_timeout(server):
    server.api.add_faults("slow@query#1=3")
    session = PinnedCASession(server.ca_bundle)
    headers = {"Authorization": f"Bearer {server.access_token}"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(
            f"{server.instance_url}/services/data/v59.0/query/",
            params={"q": "SELECT Id FROM Lead"},
            headers=headers,
            timeout=1,
        )
    ok = session.get(
        f"{server.instance_url}/services/data/v59.0/query/",
        params={"q": "SELECT COUNT() FROM Lead"},
        headers=headers,
        timeout=10,
    )
    assert ok.status_code == 200


def test_connection_dropped_mid_page(server):
    sf = client(server)
    server.api.add_faults("drop@query_more#1")
    with pytest.raises(requests.exceptions.RequestException):
        list(sf.query_all_iter("SELECT Id FROM Task"))
    assert len(list(sf.query_all_iter("SELECT Id FROM Task"))) > 4000


def test_expired_session_until_a_new_login(server):
    sf = client(server)
    server.api.add_faults("expire@query#1")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Lead")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Lead")
    creds = server.credentials
    token = (
        PinnedCASession(server.ca_bundle)
        .post(
            f"{server.instance_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            timeout=10,
        )
        .json()["access_token"]
    )
    fresh = Salesforce(
        instance_url=server.instance_url,
        session_id=token,
        session=PinnedCASession(server.ca_bundle),
    )
    assert fresh.query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_late_commit_appears_behind_the_newest_record_served(server):
    sf = client(server)
    server.api.add_faults("late@Opportunity=90")
    first = sf.query_all("SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp DESC")[
        "records"
    ]
    newest = first[0]["SystemModstamp"]
    second = sf.query_all(
        "SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp DESC"
    )["records"]
    late = {r["Id"] for r in second} - {r["Id"] for r in first}
    assert len(late) == 1
    (late_record,) = [r for r in second if r["Id"] in late]
    assert late_record["SystemModstamp"] < newest  # older than what was already served


def test_bulk_refuses_an_object_when_told(server):
    sf = client(server)
    server.api.add_faults("nobulk@Task")
    with pytest.raises(SalesforceMalformedRequest) as refused:
        list(sf.bulk2.Task.query("SELECT Id FROM Task", wait=0.1))
    assert refused.value.content[0]["errorCode"] == "INVALIDENTITY"


def test_mutations_through_the_admin_endpoint(server):
    sf = client(server)
    session = PinnedCASession(server.ca_bundle)
    headers = {"Authorization": f"Bearer {server.access_token}"}
    before = sf.query_all(
        "SELECT Id, SystemModstamp, StageName FROM Opportunity ORDER BY SystemModstamp DESC"
    )["records"]
    target = before[-1]["Id"]
    victim = sf.query("SELECT Id FROM Task LIMIT 1")["records"][0]["Id"]
    batch = {
        "advance_seconds": 3600,
        "insert": {
            "Lead": [
                {"LastName": "Newcomer", "Company": "Fresh Ltd", "Status": "Open - Not Contacted"}
            ]
        },
        "update": {"Opportunity": [{"Id": target, "StageName": "Negotiation/Review"}]},
        "delete": {"Task": [victim]},
        "purge_history_months": 18,
    }
    answer = session.post(
        f"{server.instance_url}/_demo/mutations", json=batch, headers=headers, timeout=30
    ).json()
    clock = answer["clock"]
    changed = sf.query(
        f"SELECT Id, StageName, SystemModstamp FROM Opportunity WHERE Id = '{target}'"
    )["records"][0]
    assert changed["StageName"] == "Negotiation/Review"
    assert changed["SystemModstamp"].replace("+0000", "Z") == clock
    assert changed["SystemModstamp"] > before[0]["SystemModstamp"]
    new_lead = answer["inserted"]["Lead"][0]
    assert (
        sf.query(f"SELECT LastName FROM Lead WHERE Id = '{new_lead}'")["records"][0]["LastName"]
        == "Newcomer"
    )
    assert sf.query(f"SELECT COUNT() FROM Task WHERE Id = '{victim}'")["totalSize"] == 0
    gone = sf.query_all(
        f"SELECT Id, IsDeleted FROM Task WHERE Id = '{victim}'", include_deleted=True
    )["records"]
    assert gone[0]["IsDeleted"] is True
    assert answer["purged"]["OpportunityFieldHistory"] > 0
    oldest = sf.query(
        "SELECT CreatedDate FROM OpportunityFieldHistory ORDER BY CreatedDate LIMIT 1"
    )["records"][0]
    assert oldest["CreatedDate"] >= "2025-05"  # 18 months before the clock (2026-10-31)
    bad = session.post(
        f"{server.instance_url}/_demo/mutations",
        json={"update": {"Lead": [{"Nope": 1}]}},
        headers=headers,
        timeout=10,
    )
    assert bad.status_code == 400 and "Id" in bad.json()["error"]


def test_never_crashes_on_garbage(server):
    session = PinnedCASession(server.ca_bundle)
    headers = {"Authorization": f"Bearer {server.access_token}"}
    for path in (
        "/services/data/v59.0/query/?q=%00%FF",
        "/services/data/v59.0/query/nope-12",
        "/services/data/v99.0/limits",
        "/services/data/v59.0/jobs/query/750nope/results",
        "/../../etc/passwd",
    ):
        assert session.get(server.instance_url + path, headers=headers, timeout=10).status_code in (
            400,
            404,
        )
    assert (
        session.post(
            f"{server.instance_url}/services/data/v59.0/jobs/query",
            data=b"{not json",
            headers=headers,
            timeout=10,
        ).status_code
        == 400
    )
    assert client(server).query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_broken_snapshot_gives_one_clear_message(small_org, tmp_path, monkeypatch):
    import tempfile

    # ...and leaves no spill folder behind in the temporary folder.
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    broken = tmp_path / "broken"
    shutil.copytree(small_org, broken)
    lines = (broken / "Opportunity.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(".000Z", "xx", 1)
    (broken / "Opportunity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SnapshotError) as error:
        OrgStore(broken)
    assert str(error.value).startswith("Opportunity.csv: row 4 (line 5), column CreatedDate:")
    lines[4] = lines[4] + ',"extra"'
    (broken / "Opportunity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="Opportunity.csv: not a readable CSV file"):
        OrgStore(broken)
    assert list(system_temp.iterdir()) == []


def test_a_server_leaves_nothing_in_the_temporary_folder(small_org, tmp_path, monkeypatch):
    """Its spill folder and the folder holding its CA and JWT key go when it stops, and when it
    cannot start (the port taken)."""
    import socket
    import tempfile

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    with DemoOrgServer(small_org) as server:
        assert server.ca_bundle.parent.parent == system_temp
        assert len(list(system_temp.iterdir())) == 2
    assert list(system_temp.iterdir()) == []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            DemoOrgServer(small_org, port=taken.getsockname()[1])
    assert list(system_temp.iterdir()) == []


def test_serves_any_data_loader_folder(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Widget__c.csv").write_text(
        '"Id","Name","Size__c","Built__c","Active__c"\n'
        '"a0X5g0000000001AAA","One","1.5","2025-01-02T03:04:05.000Z","true"\n'
        '"a0X5g0000000002AAA","Two","","2025-02-02T03:04:05.000Z","false"\n',
        encoding="utf-8",
    )
    with DemoOrgServer(folder, work_dir=tmp_path / "tls") as running:
        sf = client(running)
        fields = {f["name"]: f["type"] for f in sf.Widget__c.describe()["fields"]}
        assert fields == {
            "Id": "id",
            "Name": "string",
            "Size__c": "double",
            "Built__c": "datetime",
            "Active__c": "boolean",
        }
        records = sf.query(
            "SELECT Name, Size__c FROM Widget__c WHERE Built__c > 2025-01-15T00:00:00Z"
        )["records"]
        assert [(r["Name"], r["Size__c"]) for r in records] == [("Two", None)]


def test_cli_serve_writes_the_env_file(small_org, tmp_path):
    import subprocess
    import sys

    env_file = tmp_path / "demo.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "l2c_pipeline.cli",
            "demo-org",
            "serve",
            "--from",
            str(small_org),
            "--env-file",
            str(env_file),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        settings = dict(
            line.split("=", 1)
            for line in env_file.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        sf = Salesforce(
            instance_url=settings["SF_INSTANCE_URL"],
            session_id=settings["SF_ACCESS_TOKEN"],
            session=PinnedCASession(settings["SF_CA_BUNDLE"]),
        )
        assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] > 0
        assert json.loads(json.dumps(settings))["SF_INSTANCE_URL"].startswith("https://127.0.0.1:")
        # The client's connection is still open (kept alive): stopping ends it and exits cleanly.
        process.terminate()
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_stop_ends_kept_alive_connections_and_their_threads(small_org, tmp_path):
    """A client that keeps its connection open (as requests does) must not leave a request
    thread behind: one still running at interpreter exit can abort the process."""
    import threading

    before = set(threading.enumerate())
    server = DemoOrgServer(small_org, work_dir=tmp_path / "tls").start()
    sessions = [PinnedCASession(server.ca_bundle) for _ in range(3)]
    for session in sessions:
        sf = Salesforce(
            instance_url=server.instance_url, session_id=server.access_token, session=session
        )
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    request_threads = [t for t in set(threading.enumerate()) - before if t.name != "demo-org"]
    assert len(request_threads) == 3  # one per kept-alive connection, each waiting for more
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    assert not any(t.is_alive() for t in set(threading.enumerate()) - before)


def test_dagster_loads_the_code_location():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_api_late_commit_and_new_history_rows(server):
    sf = client(server)
    opp = sf.query(
        "SELECT Id, SystemModstamp FROM Opportunity ORDER BY SystemModstamp DESC LIMIT 1"
    )["records"][0]
    server.store.advance(600)
    history_ids = server.api.apply(
        {
            "insert": {
                "OpportunityFieldHistory": [
                    {
                        "OpportunityId": opp["Id"],
                        "Field": "StageName",
                        "OldValue": "Negotiation/Review",
                        "NewValue": "Closed Won",
                        "DataType": "DynamicEnum",
                    }
                ]
            }
        }
    )["inserted"]["OpportunityFieldHistory"]
    row = sf.query(
        f"SELECT CreatedDate, NewValue FROM OpportunityFieldHistory WHERE Id = '{history_ids[0]}'"
    )["records"][0]
    assert row["NewValue"] == "Closed Won" and row["CreatedDate"] > opp["SystemModstamp"]
    late_id = server.store.late_commit(
        "Lead", {"LastName": "Late", "Company": "Slow Commit Inc"}, behind_seconds=300
    )
    query = f"SELECT Id, SystemModstamp FROM Lead WHERE Id = '{late_id}'"
    assert sf.query(query)["totalSize"] == 0  # not yet committed while this query runs
    late = sf.query(query)["records"]  # the query above released it
    assert len(late) == 1
    assert late[0]["SystemModstamp"].replace("+0000", "Z") < server.api.state()["clock"]

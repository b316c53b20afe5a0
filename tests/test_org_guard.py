"""A warehouse holds one org: syncing another org into it is refused before anything is written."""

from __future__ import annotations

import duckdb
import pytest
from dagster import materialize
from simple_salesforce.exceptions import SalesforceMalformedRequest

from l2c_pipeline.demo_org.generator import demo_organization, generate
from l2c_pipeline.demo_org.server import DemoOrgServer
from l2c_pipeline.resources import SalesforceResource, WarehouseResource
from l2c_pipeline.salesforce.assets import raw_object_asset, salesforce_org
from l2c_pipeline.salesforce.catalogue import load_catalogue
from l2c_pipeline.salesforce.client import SalesforceClient
from l2c_pipeline.salesforce.settings import SalesforceSettings
from l2c_pipeline.warehouse.duckdb_warehouse import connect
from l2c_pipeline.warehouse.source import claim_for_org

LEAD_ASSET = raw_object_asset(load_catalogue(["Lead"])[0])


@pytest.fixture(scope="module")
def other_org(tmp_path_factory):
    folder = tmp_path_factory.mktemp("other-org")
    generate(folder, leads=100, seed=11, shape="standard")
    return folder


def _sync_leads(server: DemoOrgServer, warehouse):
    resource = SalesforceResource(
        source="salesforce",
        instance_url=server.instance_url,
        access_token=server.access_token,
        ca_bundle=str(server.ca_bundle),
    )
    return materialize(
        [salesforce_org, LEAD_ASSET],
        resources={"salesforce": resource, "warehouse": WarehouseResource(path=str(warehouse))},
        raise_on_error=False,
    )


def _leads(warehouse) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [row[0] for row in con.execute('SELECT Id FROM raw."Lead" ORDER BY Id').fetchall()]


def test_another_org_is_refused_and_the_warehouse_keeps_the_first(small_org, other_org, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls-a") as first:
        assert _sync_leads(first, warehouse).success
        first_id = first.store.organization["Id"]
    kept = _leads(warehouse)
    assert len(kept) > 2000  # the org's leads, deleted duplicates included
    with duckdb.connect(str(warehouse), read_only=True) as con:
        source = dict(con.execute("SELECT key, value FROM meta.source").fetchall())
    assert source["org_id"] == first_id == demo_organization("cpq_billing", 2000, 5)["Id"]
    assert source["org_name"] == "Demo org (cpq_billing, 2,000 leads, seed 5)"
    assert source["org_kind"] == "salesforce"

    with DemoOrgServer(other_org, work_dir=tmp_path / "tls-b") as second:
        result = _sync_leads(second, warehouse)
        second_name = second.store.organization["Name"]
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    # One failure, at the org check: no object step ran.
    assert [e.step_key for e in failures] == ["meta__source"]
    message = failures[0].step_failure_data.error.message
    assert "Demo org (cpq_billing, 2,000 leads, seed 5)" in message
    assert second_name in message and "L2C_WAREHOUSE" in message
    assert _leads(warehouse) == kept

    # The same org again (a new session, another port) is the same warehouse's org.
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls-c") as again:
        assert _sync_leads(again, warehouse).success
    assert _leads(warehouse) == kept


def test_an_object_synced_on_its_own_is_checked_too(small_org, other_org, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls-a") as first:
        assert _sync_leads(first, warehouse).success
    kept = _leads(warehouse)
    with DemoOrgServer(other_org, work_dir=tmp_path / "tls-b") as second:
        resource = SalesforceResource(
            source="salesforce",
            instance_url=second.instance_url,
            access_token=second.access_token,
            ca_bundle=str(second.ca_bundle),
        )
        result = materialize(
            [LEAD_ASSET],
            resources={"salesforce": resource, "warehouse": WarehouseResource(path=str(warehouse))},
            raise_on_error=False,
        )
    assert not result.success
    assert _leads(warehouse) == kept


def test_a_warehouse_from_before_the_org_was_recorded_is_taken_as_this_orgs(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        con.execute("CREATE TABLE raw.\"Lead\" AS SELECT '00Q000000000001AAA' AS Id")
        warning = claim_for_org(
            con,
            str(warehouse),
            kind="salesforce",
            org_id="00D000000000001AAA",
            org_name="Acme",
            details={},
        )
        assert "did not record their org" in warning and "'Acme'" in warning
        # Ids compare on the 15 case-sensitive characters: the 18-character form is the same org.
        assert (
            claim_for_org(
                con,
                str(warehouse),
                kind="salesforce",
                org_id="00D000000000001",
                org_name=None,
                details={},
            )
            is None
        )
        with pytest.raises(Exception, match="holds the records of salesforce org 'Acme'"):
            claim_for_org(
                con,
                str(warehouse),
                kind="salesforce",
                org_id="00D000000000002AAA",
                org_name="Other",
                details={},
            )
    finally:
        con.close()


def test_a_user_who_may_not_read_organization_is_known_by_the_session(small_org, tmp_path):
    with DemoOrgServer(small_org, work_dir=tmp_path / "tls") as server:
        client = SalesforceClient(SalesforceSettings.from_env(server.environment()))

        def refuse(*args, **kwargs):
            raise SalesforceMalformedRequest(
                "query", 400, "Organization", [{"errorCode": "INSUFFICIENT_ACCESS"}]
            )

        client.sf.query = refuse  # what an org answers a user without access to Organization
        organization = client.organization()
        assert organization["id"] == server.store.organization["Id"][:15]
        assert organization["name"] is None

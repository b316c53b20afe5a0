"""Dagster assets of the mining stage that are not plain SQL models."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from ..resources import WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from .kpi_history import record_kpi_snapshot, snapshot_date

KPI_HISTORY = AssetKey(["reports", "kpi_history"])


@asset(
    key=KPI_HISTORY,
    deps=[AssetKey(["reports", "kpi_summary"])],
    group_name="reports",
    pool=WRITER_POOL,
    kinds={"duckdb"},
    description="One dated snapshot of reports.kpi_summary per refresh day (a same-day re-run replaces it): "
    "the KPI trends.",
)
def kpi_history(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    day = snapshot_date()
    with warehouse.connection() as con:
        rows = record_kpi_snapshot(con, day)
        days = con.execute(
            "SELECT count(DISTINCT snapshot_date) FROM reports.kpi_history"
        ).fetchone()[0]
        preview = con.execute(
            "SELECT * FROM reports.kpi_history WHERE snapshot_date = ?", [day]
        ).df()
    return MaterializeResult(
        metadata={
            "snapshot_date": str(day),
            "rows": MetadataValue.int(rows),
            "snapshots": MetadataValue.int(days),
            "preview": MetadataValue.md(preview.to_markdown(index=False)),
        }
    )

"""Dagster assets of the outputs: process maps, the HTML report and the event-log exports,
written to the output folder (L2C_OUTPUT_DIR, default 'outputs' beside the warehouse).

They run after the analytics file is published and read it, read-only: the files for people
always show the published state, and a run that fails earlier leaves them as they were."""

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..resources import WarehouseResource
from ..warehouse.duckdb_warehouse import WRITER_POOL
from ..warehouse.publish import (
    default_analytics_path,
    default_output_dir,
    replace_file,
    staging_dir,
)
from .exports import (
    EVENT_OBJECTS,
    FILE_NAMES,
    build_event_objects,
    export_changed,
    parse_formats,
)
from .fingerprints import remember, up_to_date
from .html_report import write_report
from .process_maps import (
    VIEWS,
    business_duration_label,
    duration_label,
    process_map,
    render,
    render_bpmn,
    thumbnail,
)

PROCESS_MAPS = AssetKey(["process_maps"])
ANALYTICS_FILE = AssetKey(["analytics_file"])
# Parquet is compact and every tool reads it; CSV, XES and OCEL are large: `l2c export` writes
# them on demand, or L2C_EXPORT_FORMATS on every run.
DEFAULT_EXPORT_FORMATS = "parquet"

# Each map's files (<stem>_<view>.svg/.png) and metadata keys, by whether sales touches are in:
# the milestone map keeps the plain names (the HTML report shows its performance view).
PROCESS_MAP_FILES = {
    False: ("process_map", "", "milestone map"),
    True: ("process_map_with_touches", "with_touches_", "map with touches"),
}


@contextmanager
def published(warehouse: WarehouseResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the analytics file this run has just published."""
    con = duckdb.connect(str(default_analytics_path(Path(warehouse.path))), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _image(png: bytes, title: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"**{title}**\n\n![{title}](data:image/png;base64,{data})"


def _draw_if_changed(dot: str, stem: Path) -> tuple[dict[str, Path], str | None, bytes]:
    """Draw the map unless its files already hold this very drawing (same dot source): its
    files, the drawing's digest to remember when it was drawn now (else None), its thumbnail.
    Reads the output folder's record but does not write it, so maps can be drawn side by side."""
    drawing = hashlib.sha256(dot.encode()).hexdigest()
    files = {fmt: stem.with_suffix(f".{fmt}") for fmt in ("svg", "png")}
    if up_to_date(stem.parent, files.values(), drawing):
        drawing = None
    else:
        files = render(dot, stem)
    return files, drawing, thumbnail(dot)


def _drawing_threads() -> int:
    # Each drawing is a graphviz process: the machine's cores draw them side by side.
    return max(1, min(8, os.cpu_count() or 1))


@asset(
    key=PROCESS_MAPS,
    deps=[ANALYTICS_FILE],
    group_name="outputs",
    kinds={"graphviz", "svg"},
    description="Process maps (frequency, performance and business-time views of the "
    "directly-follows graph, busy maps filtered, the slowest transitions in red): the milestone map (sales touches left "
    "out) and the map with touches, and the discovered BPMN model, as SVG and PNG in the output "
    "folder; the PNGs show here in the metadata.",
)
def process_maps(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    folder = default_output_dir(Path(warehouse.path))
    with published(warehouse) as con:
        maps = [
            (
                prefix,
                title,
                view,
                folder / f"{stem}_{view}",
                process_map(con, view, touches=touches),
            )
            for touches, (stem, prefix, title) in PROCESS_MAP_FILES.items()
            for view in VIEWS
        ]
    # The model discovered in this run reaches the output folder with the file it belongs to.
    discovered = staging_dir(Path(warehouse.path)) / "process_model.bpmn"
    bpmn = folder / "process_model.bpmn"
    if discovered.exists():
        replace_file(bpmn, lambda partial: shutil.copyfile(discovered, partial))
    else:  # nothing to discover this time: an earlier run's model would mislead
        for stale in (bpmn, folder / "process_model.svg", folder / "process_model.png"):
            stale.unlink(missing_ok=True)
    with ThreadPoolExecutor(_drawing_threads()) as pool:
        drawings = [pool.submit(_draw_if_changed, drawn.dot, stem) for *_, stem, drawn in maps]
        model = (
            # Drawn every time: pm4py writes new random ids into the model's file each run, so
            # its bytes never say whether the model changed.
            pool.submit(render_bpmn, bpmn, folder / "process_model") if bpmn.exists() else None
        )
        drawings = [future.result() for future in drawings]
        model = model.result() if model is not None else None
    metadata = {}
    for (prefix, title, view, stem, drawn), (files, drawing, small) in zip(
        maps, drawings, strict=True
    ):
        if drawing is None:
            context.log.info(f"{stem.name}: the map has not changed, its files are kept")
        else:  # remembered one by one: the record is one file
            remember(folder, files.values(), drawing)
        metadata[f"{prefix}{view}_map"] = MetadataValue.md(_image(small, f"{title}, {view} view"))
        metadata[f"{prefix}{view}_svg"] = MetadataValue.path(str(files["svg"]))
        metadata[f"{prefix}edges_shown"] = MetadataValue.text(
            f"{drawn.edges_shown} of {drawn.edges_total}"
        )
        if view == "performance":
            metadata[f"{prefix}slowest_transitions"] = MetadataValue.md(
                "\n".join(f"- {a} → {b}: median {duration_label(h)}" for a, b, h in drawn.slowest)
            )
        elif view == "business":
            metadata[f"{prefix}slowest_transitions_business_hours"] = MetadataValue.md(
                "\n".join(
                    f"- {a} → {b}: median {business_duration_label(h)} of business time"
                    for a, b, h in drawn.slowest
                )
            )
    if model is not None:
        metadata["process_model"] = MetadataValue.md(
            _image(model["png"].read_bytes(), "discovered BPMN model")
        )
    context.log.info(f"process maps written to {folder}")
    return MaterializeResult(metadata=metadata)


@asset(
    key=AssetKey(["html_report"]),
    deps=[PROCESS_MAPS, ANALYTICS_FILE],
    group_name="outputs",
    kinds={"html"},
    description="The HTML report: one self-contained file (no network) with the KPIs and their "
    "trend, root causes, and the eleven questions each answered in a sentence, a chart and its "
    "table, with the milestone process map (and the map with sales touches); every figure from "
    "the analytics file. `l2c report` writes it too.",
)
def html_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    folder = default_output_dir(Path(warehouse.path))
    drawn = {
        "milestones": folder / "process_map_performance.svg",
        "milestones_business": folder / "process_map_business.svg",
        "with_touches": folder / "process_map_with_touches_performance.svg",
    }
    maps = {name: svg.read_text() for name, svg in drawn.items() if svg.exists()}
    with published(warehouse) as con:
        path = write_report(con, folder / "report.html", maps)
    context.log.info(f"HTML report: {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "bytes": MetadataValue.int(path.stat().st_size),
        }
    )


@asset(
    key=AssetKey(EVENT_OBJECTS.split(".")),
    deps=[
        AssetKey(["core", "event_log"]),
        AssetKey(["core", "cases"]),
        AssetKey(["staging", "stg_approvals"]),
    ],
    group_name="event_log",
    pool=WRITER_POOL,
    kinds={"duckdb"},
    description="Each event's objects in OCEL 2.0 terms (its case, and the record it comes from; "
    "a discount approval: its quote): what the OCEL export reads from the analytics file. A view "
    "over the event log, computed when the export (or an analyst) reads it, with the small table "
    "core.approval_quotes (each approval's quote).",
)
def event_objects(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    with warehouse.connection() as con:
        build_event_objects(con)
    return MaterializeResult(metadata={"materialized": MetadataValue.text("view")})


def export_formats() -> tuple[str, ...]:
    """L2C_EXPORT_FORMATS (empty: the default; `none`: no export); a ValueError naming it (the
    run's pre-flight calls this too)."""
    setting = os.environ.get("L2C_EXPORT_FORMATS", "").strip() or DEFAULT_EXPORT_FORMATS
    if setting.lower() == "none":
        return ()
    try:
        return parse_formats(setting)
    except ValueError as error:
        raise ValueError(f"L2C_EXPORT_FORMATS: {error}") from None


@asset(
    key=AssetKey(["event_log_exports"]),
    deps=[ANALYTICS_FILE],
    group_name="outputs",
    kinds={"csv", "parquet"},
    description="The event log exported for other tools (L2C_EXPORT_FORMATS, default parquet; "
    "also csv, xes and ocel for OCEL 2.0 JSON; none for no export), in the output folder, each "
    "rewritten only when "
    "the published event log changed. CSV cells that a spreadsheet would run as formulas are "
    "escaped.",
)
def event_log_exports(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    formats = export_formats()
    folder = default_output_dir(Path(warehouse.path))
    with published(warehouse) as con:
        files, kept = export_changed(con, folder, formats)
    for fmt, path in files.items():
        state = "unchanged, kept" if fmt in kept else "written"
        context.log.info(f"{fmt}: {path} ({path.stat().st_size:,} bytes, {state})")
    return MaterializeResult(
        metadata={fmt: MetadataValue.path(str(path)) for fmt, path in files.items()}
        | {
            "formats": MetadataValue.text(", ".join(formats) or "none (L2C_EXPORT_FORMATS)"),
            "unchanged_kept": MetadataValue.text(", ".join(kept) or "none"),
        }
    )


OUTPUT_ASSETS = [process_maps, html_report, event_log_exports]
# Built in the warehouse before publishing, for the exports that read the published file.
PUBLISHED_OUTPUT_TABLES = [event_objects]
__all__ = ["OUTPUT_ASSETS", "PUBLISHED_OUTPUT_TABLES", "FILE_NAMES"]

"""Process discovery: pm4py's inductive miner on the variants that cover most cases, saved as BPMN.

The log mined is the variants of mining.variant_paths with sales touches left out (the
milestone events), so the model shows the process rather than every call. The inductive
miner's model does not depend on how often a trace occurs, only on which traces occur, so it
runs on one trace per variant: the most frequent variants until they cover `coverage` of the
cases. Rare variants are left out on purpose, they would turn the model into a flower of
exceptions.

The miner's time grows with the variants it is given, faster than their number and with
their length: its fall-throughs recompute the directly-follows graph of the whole variant log
for each activity they try (bench/README.md: on BPI Challenge 2012, 0.2 s for 500 variants,
2.4 s for the 1,612 covering 80% of its cases, 14 s for all 4,229). So it sees at most
`max_variants` variants: the most frequent ones, fewer cases than `coverage` asked for when a
long tail of variants would be needed to reach it. The model says which
(DiscoveredModel.capped, .method). The miner on the directly-follows graph of the covered
variants (pm4py's IMd) was measured too and not taken: it takes 0.01 s but on BPI Challenge
2012 makes a flower that the most frequent variant does not fit.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..warehouse.publish import replace_file

DEFAULT_COVERAGE = 0.8
# Most variants the inductive miner is given (L2C_DISCOVERY_MAX_VARIANTS).
DEFAULT_MAX_VARIANTS = 500

_SCRATCH_LOCK = threading.Lock()


@contextmanager
def pm4py_scratch() -> Iterator[Path]:
    """A private temporary folder for pm4py's own temporary files, removed afterwards.

    pm4py's BPMN layout draws the model to files in the system's temporary folder and leaves
    them there (two a run): a nightly schedule would fill /tmp. Python's temporary folder is
    one setting for the whole process, so it is switched under a lock; graphviz drawings made
    meanwhile by other threads pipe their output and write no files."""
    with _SCRATCH_LOCK, tempfile.TemporaryDirectory(prefix="l2c-pm4py-") as scratch:
        before = tempfile.tempdir
        tempfile.tempdir = scratch
        try:
            yield Path(scratch)
        finally:
            tempfile.tempdir = before


@dataclass(frozen=True)
class DiscoveredModel:
    path: Path | None  # None: nothing to discover (no milestone events), no model written
    variants_used: int
    variants_total: int
    cases_covered: int
    cases_total: int
    activities: int
    gateways: int
    # The variants that cover the share of cases asked for (L2C_DISCOVERY_COVERAGE); the miner
    # saw variants_used of them, fewer when they are more than max_variants (None: no limit).
    variants_covering: int = 0
    coverage_asked: float = DEFAULT_COVERAGE
    max_variants: int | None = DEFAULT_MAX_VARIANTS

    @property
    def coverage(self) -> float:
        return self.cases_covered / self.cases_total if self.cases_total else 0.0

    @property
    def capped(self) -> bool:
        """The miner saw fewer variants (and cases) than the coverage asked for."""
        return self.variants_used < self.variants_covering

    @property
    def method(self) -> str:
        """In plain words: what the model was mined from."""
        if self.path is None:
            return "none: nothing to discover (only sales touches)"
        if self.capped:
            return (
                f"inductive miner on the {self.variants_used:,} most frequent variants, "
                f"{self.coverage:.1%} of the cases: the {self.variants_covering:,} variants "
                f"covering the {self.coverage_asked * 100:g}% asked for are more than "
                f"L2C_DISCOVERY_MAX_VARIANTS ({self.max_variants:,})"
            )
        return (
            f"inductive miner on the {self.variants_used:,} most frequent variants, "
            f"{self.coverage:.1%} of the cases (L2C_DISCOVERY_COVERAGE: {self.coverage_asked * 100:g}%)"
        )


def top_variants(
    con, coverage: float = DEFAULT_COVERAGE
) -> tuple[list[tuple[list[str], int]], int, int]:
    """The most frequent milestone variants until they cover `coverage` of the cases; also the
    number of variants and of cases in all."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be above 0 and at most 1, got {coverage}")
    rows = con.execute(
        """
        WITH touches AS (
            SELECT coalesce(list(activity), []) AS activities
            FROM core.activity_catalogue WHERE family = 'touch'
        ), milestone_paths AS (
            SELECT list_filter(v.activities, lambda a: NOT list_contains(t.activities, a))
                       AS activities,
                   v.cases
            FROM mining.variant_paths AS v, touches AS t
        ), variants AS (
            SELECT activities, sum(cases) AS cases
            FROM milestone_paths WHERE len(activities) > 0 GROUP BY activities
        ), running AS (
            SELECT activities, cases,
                   sum(cases) OVER (ORDER BY cases DESC, activities ROWS UNBOUNDED PRECEDING) AS covered,
                   sum(cases) OVER () AS total, count(*) OVER () AS variants
            FROM variants
        )
        SELECT activities, cases, total, variants FROM running
        WHERE covered - cases < ? * total
        ORDER BY cases DESC, activities
        """,
        [coverage],
    ).fetchall()
    if not rows:
        return [], 0, 0
    return [(list(a), n) for a, n, _, _ in rows], int(rows[0][2]), int(rows[0][3])


# XML 1.0 cannot hold these characters at all, so the BPMN file's names go without them.
_NOT_XML = {code: None for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}


def variant_frame(variants: list[tuple[list[str], int]]) -> pd.DataFrame:
    """One trace per variant, in pm4py's columns: what the inductive miner reads. Built column
    by column (a Timestamp per event made it 1.5 s for BPI Challenge 2012's 4,229 variants)."""
    lengths = [len(activities) for activities, _ in variants]
    cases = np.array([f"{index:09d}" for index in range(len(variants))], dtype=object)
    positions = np.concatenate([np.arange(length) for length in lengths])
    return pd.DataFrame(
        {
            "case:concept:name": np.repeat(cases, lengths),
            "concept:name": [
                activity.translate(_NOT_XML)
                for activities, _ in variants
                for activity in activities
            ],
            "time:timestamp": pd.Timestamp("2000-01-01") + pd.to_timedelta(positions, unit="s"),
        }
    )


def discover_bpmn(
    con,
    path: Path,
    coverage: float = DEFAULT_COVERAGE,
    max_variants: int | None = DEFAULT_MAX_VARIANTS,
) -> DiscoveredModel:
    """Mine the model from the top variants (at most `max_variants` of them; None: all that
    cover `coverage`) and write it to `path` (BPMN 2.0 XML, written to a temporary name and
    renamed, so a reader never finds half a file). A log with nothing to discover (only sales
    touches) gets no model, and a model of an earlier run is removed: it would show another
    log's process."""
    import pm4py
    from pm4py.objects.bpmn.layout import layouter

    from ..outputs.process_maps import pm4py_label

    if max_variants is not None and max_variants < 1:
        raise ValueError(f"max_variants must be 1 or more, got {max_variants}")
    covering, cases_total, variants_total = top_variants(con, coverage)
    limits = {"coverage_asked": coverage, "max_variants": max_variants}
    if not covering:
        Path(path).unlink(missing_ok=True)
        cases = con.execute("SELECT count(*) FROM mining.case_variants").fetchone()[0]
        return DiscoveredModel(None, 0, variants_total, 0, cases, 0, 0, 0, **limits)
    variants = covering if max_variants is None else covering[:max_variants]
    model = pm4py.discover_bpmn_inductive(variant_frame(variants))
    # The layout is drawn by graphviz, which refuses very long names: it is made with the names
    # as drawings show them, and the file keeps the names whole.
    names = {node.get_id(): node.get_name() for node in model.get_nodes()}
    for node in model.get_nodes():
        node.set_name(pm4py_label(node.get_name()))
    with pm4py_scratch():
        layouter.apply(model)
    for node in model.get_nodes():
        node.set_name(names[node.get_id()])
    path = replace_file(
        Path(path), lambda partial: pm4py.write_bpmn(model, str(partial), auto_layout=False)
    )
    from pm4py.objects.bpmn.obj import BPMN

    nodes = model.get_nodes()
    return DiscoveredModel(
        path=path,
        variants_used=len(variants),
        variants_total=variants_total,
        cases_covered=sum(n for _, n in variants),
        cases_total=cases_total,
        activities=sum(isinstance(n, BPMN.Task) for n in nodes),
        gateways=sum(isinstance(n, BPMN.Gateway) for n in nodes),
        variants_covering=len(covering),
        **limits,
    )

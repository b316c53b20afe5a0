"""Two versions of some SQL models on the same warehouse: each model's SQL at an earlier commit
and as checked out, counted (not written) in turns, three rounds.

    .venv/bin/python bench/models_ab.py bench/out/nightly/home 29af362 \\
        mining/stage_visits.sql mining/invoice_payments.sql staging/stg_quotes.sql

The folder must hold a run's warehouse.duckdb and analytics.duckdb (an `l2c run` home, e.g. the
one bench/nightly.py leaves); both are copied to a temporary folder first, so the run's own files
are not touched. Models new since the commit are built first, as tables of the copy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from l2c_pipeline.models.sql_models import define_macros
from l2c_pipeline.warehouse.duckdb_warehouse import connect

ROOT = Path(__file__).resolve().parents[1]


def sql_at(commit: str, model: str) -> str | None:
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:sql/{model}"], capture_output=True, text=True
    )
    return shown.stdout if shown.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="an l2c run's folder (warehouse + analytics file)")
    parser.add_argument("commit", help="the earlier version's commit")
    parser.add_argument("models", nargs="+", help="model files under sql/, e.g. mining/x.sql")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "out") as folder:
        copy = Path(folder)
        shutil.copy(args.home / "warehouse.duckdb", copy / "warehouse.duckdb")
        # The analytics file holds core, mining and reports as the models file does.
        shutil.copy(args.home / "analytics.duckdb", copy / "warehouse.models.duckdb")
        con = connect(copy / "warehouse.duckdb")
        define_macros(con)
        con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
        for path in sorted((ROOT / "sql").glob("*/*.sql")):
            model = f"{path.parent.name}/{path.name}"
            if path.parent.name != "macros" and sql_at(args.commit, model) is None:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {path.parent.name}")
                con.execute(
                    f"CREATE OR REPLACE TABLE {path.parent.name}.{path.stem} AS {path.read_text()}"
                )
                print(f"built {model}, new since {args.commit}")
        for model in args.models:
            versions = {
                "before": sql_at(args.commit, model),
                "now": (ROOT / "sql" / model).read_text(),
            }
            for _ in range(args.rounds):
                for label, sql in versions.items():
                    if sql is None:
                        continue
                    start = time.perf_counter()
                    (rows,) = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
                    print(
                        f"{model:34s} {label:6s} {time.perf_counter() - start:6.3f} s  {rows:,} rows"
                    )
        con.close()


if __name__ == "__main__":
    main()

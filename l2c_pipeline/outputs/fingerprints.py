"""Whether an output file already holds what its tables would write again: a run rewrites an
export or a drawing only when the published tables it comes from (or the code that writes it)
changed since it was written, so a quiet night does not rewrite a large file for nothing.

A table's fingerprint is its row count with the sum and the XOR of its rows' hashes, computed
by DuckDB in one pass (order-independent: the same rows in another order give the same
fingerprint). The fingerprints of the files in a folder are kept in `.fingerprints.json` there,
with each file's size: a file removed or changed by hand is written again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import duckdb

RECORD = ".fingerprints.json"


def tables_fingerprint(
    con: duckdb.DuckDBPyConnection, tables: Iterable[str], code: Iterable[Path] = ()
) -> str:
    """One digest of the tables' contents and of the source files that turn them into output."""
    digest = hashlib.sha256()
    for table in tables:
        count, total, xor = con.execute(
            f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {table} AS t"
        ).fetchone()
        digest.update(f"{table}:{count}:{total}:{xor};".encode())
    for source in code:
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()


def _record(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def up_to_date(folder: Path, files: Iterable[Path], fingerprint: str) -> bool:
    """The files exist, have the size they were written with, and were written from inputs with
    this fingerprint."""
    record = _record(folder)
    for path in files:
        entry = record.get(Path(path).name)
        if not entry or entry.get("fingerprint") != fingerprint:
            return False
        try:
            if Path(path).stat().st_size != entry.get("bytes"):
                return False
        except OSError:
            return False
    return True


def remember(folder: Path, files: Iterable[Path], fingerprint: str) -> None:
    """Note that the files were just written from inputs with this fingerprint."""
    from ..warehouse.publish import replace_file

    record = _record(folder)
    for path in files:
        record[Path(path).name] = {"fingerprint": fingerprint, "bytes": Path(path).stat().st_size}
    text = json.dumps(record, indent=1, sort_keys=True)
    replace_file(Path(folder) / RECORD, lambda partial: partial.write_text(text, encoding="utf-8"))

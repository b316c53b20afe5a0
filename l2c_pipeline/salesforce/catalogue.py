"""Which Salesforce objects and fields to extract: the mapping's objects plus an optional config file.

The config file (`L2C_OBJECTS_FILE`, YAML) adds objects, restricts or extends an object's fields,
adds a SOQL filter, or drops a default object - with no code change:

    objects:
      - name: Widget__c              # an extra (custom) object
      - name: Opportunity
        fields: [Id, StageName, Amount, Region__c]   # only these (+ Id, IsDeleted, the cursor)
      - name: Task
        where: "Type IN ('Call', 'Email')"
      - name: Event
        exclude: true

Every object name, field name and filter is checked before any query is sent: names must be
Salesforce API names, filters one SOQL condition (soql_filter: no subqueries, functions or
other clauses), sent normalised and in parentheses before the sync's own condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..api_names import is_api_name
from . import soql_filter

# Field types that cannot be selected one by one (compound) or that bloat the warehouse.
SKIPPED_FIELD_TYPES = frozenset({"address", "location", "base64"})
CURSOR_CANDIDATES = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


class CatalogueError(ValueError):
    """A bad object catalogue entry; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    fields: tuple[str, ...] | None = None  # None: every field describe lists
    where: str | None = None
    # Fields whose changes the sync records itself (change capture): the org keeps no history.
    track: tuple[str, ...] = ()


def check_api_name(name: object, what: str) -> str:
    if not is_api_name(name):
        raise CatalogueError(
            f"{what} {name!r} is not a valid Salesforce API name "
            "(letters, digits and single underscores, starting with a letter)"
        )
    return name


def check_filter(condition: object, what: str) -> str:
    """The filter normalised (one line, keywords in capitals), or CatalogueError naming the
    condition and the character where it stops being a plain SOQL condition."""
    if not isinstance(condition, str) or not condition.strip():
        raise CatalogueError(f"{what} must be a non-empty SOQL condition")
    try:
        return soql_filter.normalise(condition)
    except soql_filter.FilterError as error:
        raise CatalogueError(
            f"{what} {soql_filter.shown(condition)}: at character {error.position + 1}: "
            f"{error.problem}"
        ) from None


def load_catalogue(
    objects: Sequence[str],
    config_file: Path | None = None,
    tracked: Mapping[str, Sequence[str]] | None = None,
) -> list[ObjectSpec]:
    """The objects to extract (the mapping's), with the fields tracked by change capture,
    changed by the config file if one is given."""
    tracked = tracked or {}
    specs: dict[str, ObjectSpec] = {
        name: ObjectSpec(name, track=tuple(tracked.get(name, ()))) for name in objects
    }
    if config_file is None:
        return list(specs.values())
    path = Path(config_file)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise CatalogueError(f"L2C_OBJECTS_FILE {path} does not exist") from None
    except IsADirectoryError:
        raise CatalogueError(f"L2C_OBJECTS_FILE {path} is a folder; name the file") from None
    except yaml.YAMLError as error:
        raise CatalogueError(f"{path}: not valid YAML ({error})") from None
    entries = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: expected a top-level 'objects:' list")
    for index, entry in enumerate(entries, start=1):
        where_am_i = f"{path} objects[{index}]"
        if not isinstance(entry, dict) or "name" not in entry:
            raise CatalogueError(f"{where_am_i}: each entry needs a 'name'")
        unknown = set(entry) - {"name", "fields", "where", "exclude"}
        if unknown:
            raise CatalogueError(f"{where_am_i}: unknown key(s) {', '.join(sorted(unknown))}")
        name = check_api_name(entry["name"], f"{where_am_i}: object")
        if entry.get("exclude"):
            specs.pop(name, None)
            continue
        fields = entry.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                raise CatalogueError(f"{where_am_i}: 'fields' must be a non-empty list")
            fields = tuple(check_api_name(f, f"{where_am_i}: field") for f in fields)
        where = (
            check_filter(entry["where"], f"{where_am_i} ({name}): where")
            if "where" in entry
            else None
        )
        specs[name] = ObjectSpec(name, fields, where, tuple(tracked.get(name, ())))
    return list(specs.values())

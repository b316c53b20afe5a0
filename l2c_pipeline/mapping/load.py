"""The mapping file: where one org keeps what the event log needs, read and checked.

A mapping names, for each canonical entity (mapping/spec.py), the Salesforce object and the
field behind each column; the org's field-history objects; the fields the pipeline tracks
itself between syncs (change capture); where each case attribute comes from; which field
values mean what; and which objects are sales touches. A shape (standard, cpq_billing,
custom) is a shipped mapping file; an org's own file usually `extends:` one and changes a few
keys. Every problem stops the load with the file, the key and the value named, before any
query is sent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..api_names import is_api_name
from .spec import ANCHORS, ENTITIES, INVOICE_ATTRIBUTES, MEANINGS

SHAPES_DIR = Path(__file__).resolve().parent / "shapes"
SHAPES = ("standard", "cpq_billing", "custom")
DEFAULT_SHAPE = "standard"
_TOP_KEYS = {
    "extends",
    "description",
    "entities",
    "history",
    "change_capture",
    "attributes",
    "deal_size_bands",
    "values",
    "sales_touches",
}
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EXCLUSIVE_MEANINGS = (
    ("quote_presented", "quote_accepted", "quote_rejected"),
    ("stage_won", "stage_lost"),
    ("approval_submitted", "approval_approved", "approval_rejected"),
    ("allocation", "unallocation"),
)


class MappingError(ValueError):
    """A wrong mapping file; the message names the file, the key and the value."""


@dataclass(frozen=True)
class Band:
    label: str
    below: float | None  # None: the open top band


@dataclass(frozen=True)
class ColumnSource:
    """Where one column comes from: fields (the first one set wins) or a constant."""

    fields: tuple[str, ...] = ()
    constant: str | float | bool | None = None

    @property
    def is_constant(self) -> bool:
        return not self.fields and self.constant is not None


@dataclass(frozen=True)
class EntityMapping:
    entity: str
    object: str
    columns: dict[str, ColumnSource]


@dataclass(frozen=True)
class HistorySource:
    object: str
    entity: str
    record_field: str
    # Salesforce's layout (Field, OldValue, NewValue) when field is None; a custom history
    # object records one field in columns of its own.
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    changed_at: str = "CreatedDate"
    changed_by: str = "CreatedById"


@dataclass(frozen=True)
class AttributeSource:
    anchor: str
    field: str
    pattern: str | None = None
    value_map: dict[str, str] | None = None
    bands: tuple[Band, ...] | None = None


@dataclass(frozen=True)
class TouchSource:
    object: str
    timestamp: str
    activity: str | None = None  # every record is this activity, or:
    activity_field: str | None = None  # the activity is this field's value ...
    activities: dict[str, str] | None = None  # ... renamed, and only these values are touches
    resource: str = "OwnerId"
    lead: str | None = "WhoId"
    opportunity: str | None = "WhatId"


@dataclass(frozen=True)
class Mapping:
    path: Path
    description: str
    entities: dict[str, EntityMapping]
    history: tuple[HistorySource, ...]
    change_capture: dict[str, tuple[str, ...]]
    attributes: dict[str, tuple[AttributeSource, ...]]
    deal_size_bands: tuple[Band, ...]
    values: dict[str, tuple[str, ...]]
    sales_touches: tuple[TouchSource, ...]
    files: tuple[Path, ...] = field(default_factory=tuple)  # this file and those it extends

    @property
    def objects(self) -> tuple[str, ...]:
        """Every Salesforce object the mapping reads, in a stable order: what to extract."""
        names = [m.object for m in self.entities.values()]
        names += [h.object for h in self.history]
        names += list(self.change_capture)
        names += [t.object for t in self.sales_touches]
        return tuple(dict.fromkeys(names))

    def tracked_fields(self, object_name: str) -> tuple[str, ...]:
        return self.change_capture.get(object_name, ())


def shape_file(shape: str) -> Path:
    if shape not in SHAPES:
        raise MappingError(f"L2C_ORG_SHAPE must be one of {', '.join(SHAPES)}, got {shape!r}")
    return SHAPES_DIR / f"{shape}.yaml"


def default_mapping_file() -> Path:
    """L2C_MAPPING_FILE, else the shipped file of L2C_ORG_SHAPE (default standard)."""
    configured = os.environ.get("L2C_MAPPING_FILE")
    if configured:
        return Path(configured)
    return shape_file(os.environ.get("L2C_ORG_SHAPE") or DEFAULT_SHAPE)


# ----------------------------------------------------------------------------- reading


def _setting(path: Path, seen: tuple[Path, ...]) -> str:
    """' (L2C_MAPPING_FILE)' where the path is that setting's, for the messages."""
    configured = os.environ.get("L2C_MAPPING_FILE")
    if not seen and configured and path == Path(configured).resolve():
        return " (L2C_MAPPING_FILE)"
    return ""


def _read(path: Path, seen: tuple[Path, ...]) -> tuple[dict, dict, tuple[Path, ...]]:
    """The file merged over what it extends, with the file each key came from."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise MappingError(f"{seen[0]}: key 'extends' goes round in a circle ({chain})")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = f"{seen[-1]}: key 'extends': " if seen else ""
        raise MappingError(
            f"{where}the mapping file {path}{_setting(path, seen)} does not exist"
        ) from None
    except IsADirectoryError:
        raise MappingError(
            f"the mapping file {path}{_setting(path, seen)} is a folder; name the file"
        ) from None
    except yaml.YAMLError as error:
        raise MappingError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise MappingError(f"{path}: expected keys such as entities and attributes")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise MappingError(
            f"{path}: key '{unknown[0]}' is not a mapping setting "
            f"(known: {', '.join(sorted(_TOP_KEYS))})"
        )
    origins: dict[tuple, Path] = {}
    base: dict = {}
    files: tuple[Path, ...] = ()
    parent = document.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise MappingError(f"{path}: key 'extends' must name a shape or a file, got {parent!r}")
        parent_path = (
            SHAPES_DIR / f"{parent}.yaml" if parent in SHAPES else (path.parent / parent).resolve()
        )
        base, origins, files = _read(parent_path, (*seen, path))
    merged = _merge(base, {k: v for k, v in document.items() if k != "extends"}, origins, (), path)
    return merged, origins, (path, *files)


def _merge(base: dict, override: dict, origins: dict, prefix: tuple, path: Path) -> dict:
    """Dictionaries merge key by key (null removes a key); anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        here = (*prefix, key)
        if value is None:
            merged.pop(key, None)
            origins[here] = path
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, origins, here, path)
        else:
            merged[key] = value
            origins[here] = path
            for stale in [k for k in origins if k[: len(here)] == here and k != here]:
                del origins[stale]
    return merged


class _Checker:
    """Names the file a key came from in every message."""

    def __init__(self, top: Path, origins: dict[tuple, Path]) -> None:
        self.top, self.origins = top, origins

    def fail(self, key: tuple, problem: str) -> MappingError:
        source = self.top
        for length in range(len(key), 0, -1):
            if key[:length] in self.origins:
                source = self.origins[key[:length]]
                break
        shown = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in key)
        return MappingError(f"{source}: key '{shown.replace('.[', '[')}' {problem}")

    def api_name(self, value, key: tuple, what: str = "field") -> str:
        if not is_api_name(value):
            raise self.fail(key, f"names {value!r}, which is not a Salesforce {what} API name")
        return value

    def mapping(self, value, key: tuple) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping of names to settings, got {value!r}")
        return value

    def listing(self, value, key: tuple) -> list:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {value!r}")
        return value

    def keys(self, value: dict, key: tuple, allowed: set, required: set = frozenset()) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                (*key, unknown[0]), f"is not a setting here (known: {', '.join(sorted(allowed))})"
            )
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(key, f"needs '{missing[0]}'")


# ----------------------------------------------------------------------------- checking


def load_mapping(path: Path | None = None) -> Mapping:
    """Read the mapping file (default: L2C_MAPPING_FILE or the shape's shipped file) and check it."""
    path = Path(path or default_mapping_file())
    document, origins, files = _read(path, ())
    check = _Checker(path.resolve(), origins)
    entities = _entities(document.get("entities") or {}, check)
    history = _history(document.get("history") or [], entities, check)
    capture = _change_capture(document.get("change_capture") or {}, check)
    attributes = _attributes(document.get("attributes") or {}, entities, check)
    bands = _bands(document.get("deal_size_bands") or [], ("deal_size_bands",), check)
    values = _values(document.get("values") or {}, check)
    touches = _touches(document.get("sales_touches") or [], check)
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise check.fail(("description",), f"must be text, got {description!r}")
    return Mapping(
        path.resolve(),
        description.strip(),
        entities,
        history,
        capture,
        attributes,
        bands,
        values,
        touches,
        files,
    )


def _entities(section, check: _Checker) -> dict[str, EntityMapping]:
    section = check.mapping(section, ("entities",))
    entities = {}
    for name, settings in section.items():
        key = ("entities", name)
        if name not in ENTITIES:
            raise check.fail(key, f"is not an entity (known: {', '.join(ENTITIES)})")
        settings = check.mapping(settings, key)
        check.keys(settings, key, {"object", "columns"}, {"object"})
        obj = check.api_name(settings["object"], (*key, "object"), "object")
        columns = {}
        spec = ENTITIES[name]
        for column, source in check.mapping(
            settings.get("columns") or {}, (*key, "columns")
        ).items():
            ckey = (*key, "columns", column)
            if column not in spec.column_names:
                raise check.fail(
                    ckey, f"is not a column of {name} (known: {', '.join(spec.column_names)})"
                )
            columns[column] = _column_source(source, ckey, check)
        if spec.key not in columns:
            raise check.fail((*key, "columns"), f"needs '{spec.key}', the record's id")
        entities[name] = EntityMapping(name, obj, columns)
    for name, spec in ENTITIES.items():
        if spec.required and name not in entities:
            raise check.fail(("entities",), f"needs '{name}': there is no event log without it")
    return entities


def _column_source(source, key: tuple, check: _Checker) -> ColumnSource:
    if isinstance(source, str):
        return ColumnSource(fields=(check.api_name(source, key),))
    if isinstance(source, list) and source:
        return ColumnSource(
            fields=tuple(check.api_name(f, (*key, i)) for i, f in enumerate(source, 1))
        )
    if isinstance(source, dict) and set(source) == {"value"}:
        value = source["value"]
        if not isinstance(value, (str, int, float, bool)) or value is None:
            raise check.fail(
                (*key, "value"), f"must be text, a number or true/false, got {value!r}"
            )
        return ColumnSource(constant=value)
    raise check.fail(
        key, f"must be a field name, a list of field names or {{value: ...}}, got {source!r}"
    )


def _history(section, entities: dict, check: _Checker) -> tuple[HistorySource, ...]:
    sources = []
    for index, entry in enumerate(check.listing(section, ("history",)), start=1):
        key = ("history", index)
        entry = check.mapping(entry, key)
        allowed = {
            "object",
            "entity",
            "record",
            "field",
            "old_value",
            "new_value",
            "changed_at",
            "changed_by",
        }
        check.keys(entry, key, allowed, {"object", "entity", "record"})
        if entry["entity"] not in entities:
            raise check.fail(
                (*key, "entity"), f"names {entry['entity']!r}, which the mapping's entities lack"
            )
        custom = {k: entry.get(k) for k in ("field", "old_value", "new_value")}
        if any(custom.values()) and not all(custom.values()):
            raise check.fail(
                key, "a custom history object needs all of field, old_value and new_value"
            )
        sources.append(
            HistorySource(
                object=check.api_name(entry["object"], (*key, "object"), "object"),
                entity=entry["entity"],
                record_field=check.api_name(entry["record"], (*key, "record")),
                **{k: check.api_name(v, (*key, k)) for k, v in custom.items() if v is not None},
                changed_at=check.api_name(
                    entry.get("changed_at", "CreatedDate"), (*key, "changed_at")
                ),
                changed_by=check.api_name(
                    entry.get("changed_by", "CreatedById"), (*key, "changed_by")
                ),
            )
        )
    return tuple(sources)


def _change_capture(section, check: _Checker) -> dict[str, tuple[str, ...]]:
    capture = {}
    for obj, fields in check.mapping(section, ("change_capture",)).items():
        key = ("change_capture", obj)
        check.api_name(obj, key, "object")
        if not isinstance(fields, list) or not fields:
            raise check.fail(key, f"must list the fields to track, got {fields!r}")
        capture[obj] = tuple(check.api_name(f, (*key, i)) for i, f in enumerate(fields, 1))
    return capture


def _attributes(section, entities: dict, check: _Checker) -> dict[str, tuple[AttributeSource, ...]]:
    attributes = {}
    for name, sources in check.mapping(section, ("attributes",)).items():
        key = ("attributes", name)
        if not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name):
            raise check.fail(key, "must be a lower_snake_case attribute name")
        if name in ("sales_rep", "deal_size", "discount_band"):
            raise check.fail(key, "is computed by the pipeline itself and cannot be mapped")
        if sources is None or sources == []:
            attributes[name] = ()
            continue
        if isinstance(sources, dict):
            sources = [sources]
        parsed = []
        for index, source in enumerate(check.listing(sources, key), start=1):
            skey = (*key, index)
            source = check.mapping(source, skey)
            check.keys(
                source, skey, {"from", "field", "pattern", "map", "bands"}, {"from", "field"}
            )
            anchor = source["from"]
            if anchor not in ANCHORS:
                raise check.fail((*skey, "from"), f"names {anchor!r} (known: {', '.join(ANCHORS)})")
            if anchor == "invoice" and name not in INVOICE_ATTRIBUTES:
                raise check.fail((*skey, "from"), "'invoice' only holds invoice attributes")
            entity = ANCHORS[anchor][0]
            if entity not in entities:
                raise check.fail(
                    (*skey, "from"), f"reads {entity}, which the mapping's entities lack"
                )
            pattern = source.get("pattern")
            if pattern is not None:
                _check_pattern(pattern, (*skey, "pattern"), check)
            value_map = source.get("map")
            if value_map is not None:
                value_map = check.mapping(value_map, (*skey, "map"))
                value_map = {str(k): str(v) for k, v in value_map.items()}
            bands = source.get("bands")
            if bands is not None:
                bands = _bands(bands, (*skey, "bands"), check)
            parsed.append(
                AttributeSource(
                    anchor,
                    check.api_name(source["field"], (*skey, "field")),
                    pattern,
                    value_map,
                    bands,
                )
            )
        attributes[name] = tuple(parsed)
    return attributes


def _check_pattern(pattern, key: tuple, check: _Checker) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise check.fail(key, f"must be a regular expression, got {pattern!r}")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise check.fail(key, f"{pattern!r} is not a regular expression ({error})") from None
    if compiled.groups != 1:
        raise check.fail(key, f"{pattern!r} must have exactly one (group): the value kept")


def _bands(section, key: tuple, check: _Checker) -> tuple[Band, ...]:
    bands = []
    entries = check.listing(section, key)
    for index, entry in enumerate(entries, start=1):
        bkey = (*key, index)
        entry = check.mapping(entry, bkey)
        last = index == len(entries)
        check.keys(entry, bkey, {"label", "below"}, {"label"} if last else {"label", "below"})
        label, below = entry["label"], entry.get("below")
        if not isinstance(label, str) or not label:
            raise check.fail((*bkey, "label"), f"must be text, got {label!r}")
        if below is not None:
            if isinstance(below, bool) or not isinstance(below, (int, float)):
                raise check.fail((*bkey, "below"), f"must be a number, got {below!r}")
            if bands and bands[-1].below is not None and below <= bands[-1].below:
                raise check.fail((*bkey, "below"), f"{below!r} must be above the band before it")
        elif not last:
            raise check.fail(bkey, "only the last band may be open (no 'below')")
        bands.append(Band(label, None if below is None else float(below)))
    return tuple(bands)


def _values(section, check: _Checker) -> dict[str, tuple[str, ...]]:
    values = {meaning: () for meaning in MEANINGS}
    for meaning, listed in check.mapping(section, ("values",)).items():
        key = ("values", meaning)
        if meaning not in MEANINGS:
            raise check.fail(key, f"is not a value meaning (known: {', '.join(MEANINGS)})")
        if listed is None:
            continue
        if not isinstance(listed, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in listed
        ):
            raise check.fail(key, f"must list field values, got {listed!r}")
        values[meaning] = tuple(str(v) for v in listed)
    # A value can mean only one thing where the meanings exclude each other.
    for group in _EXCLUSIVE_MEANINGS:
        seen: dict[str, str] = {}
        for meaning in group:
            for value in values[meaning]:
                if value in seen:
                    raise check.fail(
                        ("values", meaning),
                        f"lists {value!r}, but {value!r} also means {seen[value]}",
                    )
                seen[value] = meaning
    return values


def _touches(section, check: _Checker) -> tuple[TouchSource, ...]:
    touches = []
    for index, entry in enumerate(check.listing(section, ("sales_touches",)), start=1):
        key = ("sales_touches", index)
        entry = check.mapping(entry, key)
        allowed = {
            "object",
            "timestamp",
            "activity",
            "activity_field",
            "activities",
            "resource",
            "lead",
            "opportunity",
        }
        check.keys(entry, key, allowed, {"object", "timestamp"})
        activity, field_name = entry.get("activity"), entry.get("activity_field")
        if (activity is None) == (field_name is None):
            raise check.fail(key, "needs either 'activity' or 'activity_field' (with 'activities')")
        if activity is not None and (not isinstance(activity, str) or not activity.strip()):
            raise check.fail((*key, "activity"), f"must name an activity, got {activity!r}")
        activities = entry.get("activities")
        if field_name is not None:
            check.api_name(field_name, (*key, "activity_field"))
            activities = check.mapping(activities or {}, (*key, "activities"))
            if not activities:
                raise check.fail((*key, "activities"), "must map field values to activities")
            activities = {str(k): str(v) for k, v in activities.items()}
        touches.append(
            TouchSource(
                object=check.api_name(entry["object"], (*key, "object"), "object"),
                timestamp=check.api_name(entry["timestamp"], (*key, "timestamp")),
                activity=activity,
                activity_field=field_name,
                activities=activities,
                resource=check.api_name(entry.get("resource", "OwnerId"), (*key, "resource")),
                lead=_optional_field(entry, "lead", "WhoId", key, check),
                opportunity=_optional_field(entry, "opportunity", "WhatId", key, check),
            )
        )
    return tuple(touches)


def _optional_field(entry: dict, name: str, default: str, key: tuple, check: _Checker):
    if name in entry and entry[name] is None:
        return None
    return check.api_name(entry.get(name, default), (*key, name))


def check_touch_activities(mapping: Mapping, catalogue: list[tuple]) -> None:
    """Every activity the mapping makes a sales touch is a touch in the activity catalogue
    (so the milestone views leave it out and it has a rank); else the file and key are named."""
    families = {row[0]: row[1] for row in catalogue}
    for index, touch in enumerate(mapping.sales_touches, start=1):
        names = [touch.activity] if touch.activity else list(touch.activities.values())
        for name in names:
            if families.get(name) != "touch":
                key = "activity" if touch.activity else "activities"
                raise MappingError(
                    f"{mapping.path}: key 'sales_touches[{index}].{key}' names {name!r}, which "
                    "sql/core/activity_catalogue.sql does not list as a 'touch' activity: add it there"
                )

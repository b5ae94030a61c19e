"""The schema of stored documents, derived from their dataclasses (fields and type hints).

A document type (:mod:`benchbed.results.record`) is a frozen dataclass; its JSON form and the checks
made when reading it back both follow from its fields' type hints, so a field added to a dataclass is
written, checked and read with no second list to keep in step:

=========================  ==========================  ===================================
type hint                  JSON                        read back as
=========================  ==========================  ===================================
``str`` / ``int`` / bool   string / integer / boolean  the value (a bool is no integer)
``float``                  number                      ``float``
``X | None``               as ``X``, or null/missing   ``None`` or as ``X``
``dict[str, float|int]``   object of numbers           floats / ints
``dict[str, str]``         object of strings           the object
``dict[str, D]``           object of ``D`` objects     ``D`` s (a document dataclass)
``dict[...]`` (other)      object                      the object (its content is the plugin's)
``tuple[str, ...]``        list of strings             tuple
``tuple[D, ...]``          list of ``D`` objects       tuple of ``D`` s
``tuple[dict, ...]``       list of objects             tuple of dicts
a dataclass ``D``          object                      ``D``
=========================  ==========================  ===================================

A field declared with ``metadata=OMIT_IF_EMPTY`` (and a default) is left out of the JSON while it is
empty and reads as its default when missing, so adding one keeps every older document's exact form and
checksum. Any problem is one :class:`~benchbed.contracts.errors.RecordError` line naming the document and
field.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from benchbed.contracts.errors import RecordError
from benchbed.results.canonical import content_sha256

OMIT_IF_EMPTY = {"omit_if_empty": True}  # dataclasses.field(metadata=...) of a field added after schema 2


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class FieldType:
    """How one field is checked (``ok`` + the words for what it must be) and converted when read."""

    ok: Callable[[Any], bool]
    words: str
    read: Callable[[Any, str], Any]  # (JSON value, what) -> the field's value
    optional: bool = False  # may be missing: read as None
    default: Callable[[], Any] | None = None  # may be missing (an OMIT_IF_EMPTY field): read as this


def _same(value: Any, what: str) -> Any:
    return value


_SCALARS = {str: (lambda v: isinstance(v, str), "a string", _same),
            int: (_is_int, "an integer", _same),
            float: (is_number, "a number", lambda v, w: float(v)),
            bool: (lambda v: isinstance(v, bool), "true or false", _same)}


def _field_type(hint: Any) -> FieldType:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        base = _field_type(inner)
        return FieldType(lambda v: v is None or base.ok(v), f"{base.words} or null",
                         lambda v, w: None if v is None else base.read(v, w), optional=True)
    if hint in _SCALARS:
        return FieldType(*_SCALARS[hint])
    if dataclasses.is_dataclass(hint):
        return FieldType(lambda v: isinstance(v, dict), "an object", lambda v, w: read_document(hint, v, w))
    if origin is dict:
        value = args[1] if args else Any
        if value in (float, int):
            return FieldType(lambda v: isinstance(v, dict) and all(isinstance(k, str) and is_number(x)
                                                                   for k, x in v.items()),
                             "an object of numbers", lambda v, w: {k: value(x) for k, x in v.items()})
        if value is str:
            return FieldType(lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                             "an object of strings", _same)
        if dataclasses.is_dataclass(value):
            return FieldType(lambda v: isinstance(v, dict), "an object",
                             lambda v, w: {k: read_document(value, x, f"{w.removesuffix('s')} of {k!r}")
                                           for k, x in v.items()})
        return FieldType(lambda v: isinstance(v, dict), "an object", _same)
    if origin is tuple:
        item = args[0] if args else Any
        if item is str:
            return FieldType(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                             "a list of strings", lambda v, w: tuple(v))
        if dataclasses.is_dataclass(item):
            return FieldType(lambda v: isinstance(v, list), "a list",
                             lambda v, w: tuple(read_document(item, x, w) for x in v))
        return FieldType(lambda v: isinstance(v, list), "a list", lambda v, w: tuple(
            dict(x) if isinstance(x, dict) else x for x in v))
    return FieldType(lambda v: True, "anything", _same)


def _omitted(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("omit_if_empty"))


@functools.cache
def schema_of(cls: type) -> dict[str, FieldType]:
    """Field name -> its :class:`FieldType`, in declaration order, from ``cls``'s type hints."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        kind = _field_type(hints[f.name])
        if _omitted(f):
            default = f.default_factory if f.default_factory is not dataclasses.MISSING else (lambda d=f.default: d)
            kind = dataclasses.replace(kind, default=default)
        out[f.name] = kind
    return out


def read_document(cls: type, data: Any, what: str) -> Any:
    """An instance of dataclass ``cls`` from its JSON object, every field checked; RecordError if not."""
    if not isinstance(data, dict):
        raise RecordError(f"{what} is not an object")
    kwargs = {}
    for name, kind in schema_of(cls).items():
        if name not in data and kind.default is not None:
            kwargs[name] = kind.default()
            continue
        if name not in data and not kind.optional:
            raise RecordError(f"{what} has no {name!r} field")
        value = data.get(name)
        if not kind.ok(value):
            raise RecordError(f"{what}: field {name!r} must be {kind.words}, got {type(value).__name__}")
        kwargs[name] = kind.read(value, f"{what}: {name}")
    return cls(**kwargs)


def to_json(value: Any) -> Any:
    """A document (or any value inside one) as plain JSON-able data: dataclasses as objects, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (_omitted(f) and not getattr(value, f.name))}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    return value


def stored_dict(document: Any, version: int, **extra: Any) -> dict[str, Any]:
    """A top-level document's JSON: its fields, ``schema_version``, ``extra`` and ``record_sha256``."""
    data = to_json(document)
    data.update(schema_version=version, **extra)
    data["record_sha256"] = content_sha256(data)
    return data


def read_stored(cls: type, data: Any, what: str, version: int) -> Any:
    """A top-level document from JSON: schema version, every field and the checksum checked."""
    if not isinstance(data, dict):
        raise RecordError(f"{what} is not a JSON object")
    found = data.get("schema_version")
    if found != version:
        raise RecordError(f"{what} has schema_version {found!r}, this benchbed reads {version}: "
                          f"recompute it with `benchbed run`")
    if not isinstance(data.get("record_sha256"), str):
        raise RecordError(f"{what}: field 'record_sha256' must be a string")
    document = read_document(cls, data, what)
    if data["record_sha256"] != content_sha256(data):
        raise RecordError(f"{what}: its record_sha256 does not match its content (edited or damaged)")
    return document

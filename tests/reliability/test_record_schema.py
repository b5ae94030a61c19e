"""Stored documents: the JSON form and its checks come from the dataclasses (results/schema.py)."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from benchbed.contracts.errors import RecordError
from benchbed.results.canonical import dumps
from benchbed.results.record import Record, StudyResult

PUBLISHED = Path(__file__).resolve().parents[2] / "leaderboards" / "results"


def _published() -> list[Path]:
    # records and studies; a publisher's local unit cache (units/, ignored by git) is not published
    return sorted(p for p in PUBLISHED.rglob("*.json") if "units" not in p.relative_to(PUBLISHED).parts)


def _read(data):
    kind = StudyResult if "kind" in data and "rows" in data else Record
    return kind.from_dict(data)


def test_published_documents_read_and_write_back_byte_for_byte():
    paths = _published()
    assert len(paths) >= 10
    for path in paths:
        text = path.read_text()
        document = _read(json.loads(text))
        assert dumps(document.to_dict()) == text, path.name


def _a_record() -> dict:
    path = next(p for p in _published() if "rows" not in json.loads(p.read_text()))
    return json.loads(path.read_text())




@pytest.mark.parametrize("name", [f.name for f in fields(Record)])
def test_every_record_field_is_checked(name):
    data = _a_record()
    value = data.get(name, {})  # a field added after schema 2 (intervals) may be absent from older records
    data[name] = [] if isinstance(value, (dict, str, int, float)) or value is None else "not-this"
    if isinstance(value, list):
        data[name] = {"not": "a list"}
    with pytest.raises(RecordError, match=rf"field '{name}' must be"):
        Record.from_dict(data)


@pytest.mark.parametrize("name", ["model", "metrics", "units", "result_key", "checkpoint_sha256"])
def test_a_missing_field_is_named(name):
    data = _a_record()
    del data[name]
    with pytest.raises(RecordError, match=rf"has no '{name}' field"):
        Record.from_dict(data)


def test_nested_parts_are_checked_and_an_edit_breaks_the_checksum():
    data = _a_record()
    unit = dict(data["units"][0], start="0")
    with pytest.raises(RecordError, match="field 'start' must be an integer"):
        Record.from_dict({**data, "units": [unit]})
    column = next(iter(data["columns"]))
    with pytest.raises(RecordError, match="higher_is_better' must be true or false or null"):
        Record.from_dict({**data, "columns": {**data["columns"], column: {**data["columns"][column],
                                                                          "higher_is_better": "yes"}}})
    with pytest.raises(RecordError, match="does not match its content"):
        Record.from_dict({**data, "seed": data["seed"] + 1})

"""The generated documents match the models, and contracts only change in
backward-compatible ways (SPEC 5)."""

import copy
import json
import typing

import pytest
from pydantic import BaseModel

from schemas import compat, generate
from schemas.codes import NOT_TRUE_OR_FALSE
from schemas.registry import EVENTS, by_type
from schemas.topics import (
    INTERNAL,
    MATCHER_AGREEMENTS_BROADCAST,
    PUBLIC,
    TRACKER_TICKS,
    catalogue,
)


def test_generated_files_match_the_models():
    assert generate.drift() == [], "run `make schemas` and commit schemas/generated/"


def test_models_are_compatible_with_every_committed_schema():
    assert compat.check(history=True) == []


def test_asyncapi_document_names_every_event_and_topic():
    doc = json.loads((generate.OUT / "asyncapi.json").read_text())
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["components"]["messages"]) == {cls.__name__ for cls in EVENTS}
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {t.name for t in PUBLIC} <= addresses
    for op in doc["operations"].values():
        assert op["action"] in ("send", "receive")
        assert op["channel"]["$ref"].removeprefix("#/channels/") in doc["channels"]


def test_event_types_are_unique_and_each_travels_on_one_topic():
    assert len(by_type()) == len(EVENTS)
    for cls in EVENTS:
        carriers = [t for t in PUBLIC + INTERNAL if cls in t.events
                    and t not in (MATCHER_AGREEMENTS_BROADCAST, TRACKER_TICKS)]
        assert len(carriers) == 1, cls.type
        assert carriers[0].key == cls.key_field, cls.type


def test_partitioned_topics_have_at_least_six_and_consumed_topics_have_dead_letters():
    names = {t.name for t in catalogue()}
    for t in PUBLIC:
        assert t.partitions >= 6 or t.name == "circular.clock"
        assert t.dead_letter in names


def test_no_event_carries_personal_data_fields():
    forbidden = {"full_name", "name", "passport_number", "phone", "email", "address"}
    for cls in EVENTS:
        assert not forbidden & set(cls.model_fields), cls.type


SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["a"],
    "properties": {
        "a": {"type": "string", "maxLength": 10},
        "b": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        "c": {"enum": ["x", "y"], "type": "string"},
        "d": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
    },
    "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}},
                       "required": ["n"]}},
}


def changed(fn):
    new = copy.deepcopy(SCHEMA)
    fn(new)
    return compat.incompatibilities(SCHEMA, new)


@pytest.mark.parametrize(("change", "found"), [
    (lambda s: s["properties"].pop("b"), "property removed"),
    (lambda s: s["required"].append("b"), "now required"),
    (lambda s: s["properties"]["c"].update(enum=["x"]), "enum values removed"),
    (lambda s: s["properties"]["a"].update(maxLength=5), "maxLength lowered"),
    (lambda s: s["properties"]["a"].update(type="integer"), "type changed"),
    (lambda s: s["properties"]["b"]["anyOf"].pop(1), "no longer accepted"),
    (lambda s: s["$defs"]["Item"]["required"].append("m"), "now required"),
    (lambda s: s["properties"]["b"]["anyOf"][0].update(minimum=1), "minimum raised"),
])
def test_incompatible_changes_are_caught(change, found):
    problems = changed(change)
    assert any(found in p for p in problems), problems


@pytest.mark.parametrize("change", [
    lambda s: s["properties"].update(e={"type": "string"}),
    lambda s: s["properties"]["c"].update(enum=["x", "y", "z"]),
    lambda s: s["properties"]["a"].update(maxLength=20),
    lambda s: s["required"].clear(),
    lambda s: s["properties"]["a"].update(description="docs only"),
])
def test_compatible_changes_pass(change):
    assert changed(change) == []


def _int_fields(model, seen=None):
    """(model, field) of every integer field of ``model`` and the models inside it."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if kind is int:
                yield model, name, field
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _int_fields(kind, seen)
            else:
                stack += [a for a in typing.get_args(kind) if a is not type(None)]


def test_every_integer_field_of_a_contract_refuses_true_and_false():
    found = [(m.__name__, n) for event in EVENTS for m, n, f in _int_fields(event)]
    assert ("CoveredOccupation", "annual_quota") in found  # the walk reaches nested models
    missing = [(m.__name__, n) for event in EVENTS for m, n, f in _int_fields(event)
               if NOT_TRUE_OR_FALSE not in f.metadata]
    assert missing == []

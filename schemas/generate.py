"""Writes the documents generated from the contracts into ``schemas/generated/``:
one JSON Schema per event (``events/<type>.v<version>.json``) and one AsyncAPI 3.0
document (``asyncapi.json``). Refuses to overwrite a schema with a backward-
incompatible one: bump the event's version instead.

    python -m schemas.generate           write the files
    python -m schemas.generate --check   exit 1 if the committed files differ
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas import compat
from schemas.envelope import Envelope
from schemas.events.base import Event
from schemas.registry import EVENTS
from schemas.topics import Topic, catalogue

OUT = Path(__file__).resolve().parent / "generated"
EVENTS_DIR = "events"


def event_file(cls: type[Event]) -> str:
    return f"{EVENTS_DIR}/{cls.type}.v{cls.version}.json"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:circular:event:{cls.type}:v{cls.version}"
    schema["x-circular-type"] = cls.type
    schema["x-circular-version"] = cls.version
    schema["x-kafka-key"] = cls.key_field
    return schema


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _message_name(cls: type[Event]) -> str:
    return cls.__name__


def _channel_id(topic: Topic) -> str:
    return topic.name.replace("circular.", "").replace(".", "-")


def headers_schema() -> dict[str, Any]:
    props = {}
    for name, f in Envelope.model_fields.items():
        header = "content-type" if name == "datacontenttype" else f"ce_{name}"
        props[header] = {"type": "string", "description": f.description or f"CloudEvents {name}"}
    required = ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time",
                "ce_schemaversion", "content-type"]
    return {"type": "object", "properties": props, "required": required,
            "description": "CloudEvents 1.0 attributes in binary content mode"}


def asyncapi() -> dict[str, Any]:
    components_schemas: dict[str, Any] = {"CloudEventsHeaders": headers_schema()}
    messages: dict[str, Any] = {}
    for cls in EVENTS:
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            components_schemas.setdefault(name, sub)
        components_schemas[cls.__name__] = schema
        messages[_message_name(cls)] = {
            "name": cls.type,
            "title": cls.__name__,
            "summary": (cls.__doc__ or cls.type).strip().split("\n")[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": cls.key_field}}},
            "x-schema-version": cls.version,
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in catalogue():
        cid = _channel_id(topic)
        channel: dict[str, Any] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {
                _message_name(e): {"$ref": f"#/components/messages/{_message_name(e)}"}
                for e in topic.events
            },
            "bindings": {"kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [topic.topic_config()["cleanup.policy"]],
                    "retention.ms": topic.retention_ms,
                },
            }},
        }
        channels[cid] = channel
        refs = [{"$ref": f"#/channels/{cid}/messages/{_message_name(e)}"} for e in topic.events]
        for service in topic.producers:
            operations[f"{service}-sends-{cid}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{cid}"}, "messages": refs,
            }
        for service in topic.consumers:
            operations[f"{service}-receives-{cid}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{cid}"}, "messages": refs,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Circular events",
            "version": "1.0.0",
            "description": "Events exchanged on Apache Kafka by the gateway, matcher and "
            "tracker. Values are JSON; CloudEvents attributes travel in headers.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka",
                              "description": "The single-node broker of `make up`"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components_schemas, "messages": messages},
    }


def render() -> dict[str, str]:
    """Relative path -> file text, for every generated document."""
    files = {event_file(cls): _dump(event_schema(cls)) for cls in EVENTS}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def drift(out: Path = OUT) -> list[str]:
    """Files that are missing, stale or no longer generated."""
    wanted = render()
    found = {str(p.relative_to(out)) for p in out.rglob("*.json")} if out.exists() else set()
    problems = [f"stale: {rel}" for rel, text in wanted.items()
                if not (out / rel).exists() or (out / rel).read_text() != text]
    problems += [f"not generated any more: {rel}" for rel in sorted(found - set(wanted))
                 if rel.startswith(EVENTS_DIR + "/") and not _kept_old_version(rel)]
    return problems


def _kept_old_version(rel: str) -> bool:
    """Schemas of an older major version stay so their records can be read."""
    current = {event_file(cls) for cls in EVENTS}
    return rel not in current and any(
        rel.startswith(f"{EVENTS_DIR}/{cls.type}.v") for cls in EVENTS)


def write(out: Path = OUT) -> list[str]:
    problems = []
    for cls in EVENTS:
        path = out / event_file(cls)
        if path.exists():
            problems += [f"{cls.type}: {p}" for p in
                         compat.incompatibilities(json.loads(path.read_text()), event_schema(cls))]
    if problems:
        return problems
    for rel, text in render().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate event schemas and AsyncAPI.")
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift()
        for p in problems:
            print(p)
        if problems:
            print("run `make schemas` and commit schemas/generated/", file=sys.stderr)
        return 1 if problems else 0
    problems = write()
    for p in problems:
        print(f"incompatible: {p}", file=sys.stderr)
    if problems:
        print("backward-incompatible change: add a new version of the event instead",
              file=sys.stderr)
        return 1
    print(f"wrote {len(render())} files under {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())



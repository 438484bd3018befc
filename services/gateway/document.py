"""Rules of the input that the models' own JSON Schema leaves out, stated in the
OpenAPI document so that it tells every client what the gateway accepts:

- a code is one of its list (ISCO-08 unit groups, ISO 3166-1 countries, ISO 4217
  currencies, ISO 639-1 languages), not only the shape the pattern gives; the event
  contracts share these types and their documents keep the pattern alone (an enum
  there would be a contract change for every consumer);
- a text holds no NUL character (the body guard refuses one anywhere), and a text the
  gateway trims holds as many characters other than white space as its
  ``minLength`` asks (``" "`` is no title).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from schemas.codes import countries, currencies, isco_unit_groups, languages

#: a code type's description (schemas/codes.py) -> the values it allows
CODE_LISTS: dict[str, Callable[[], Any]] = {
    "ISCO-08 unit group code": isco_unit_groups,
    "ISO 3166-1 alpha-2 country code": countries,
    "ISO 4217 currency code": currencies,
    "ISO 639-1 language code": languages,
}
#: what str.strip() removes (the gateway's trimmed texts are stripped that way);
#: listed as characters: \\s differs between regex engines
WHITE_SPACE = "".join(chr(c) for c in range(1, 0x3001) if chr(c).isspace())
NO_NUL = r"^[^\x00]*$"
_TEXT = r"[^\x00]*"
_VISIBLE = "[^\\x00" + WHITE_SPACE + "]"


def visible_characters(count: int) -> str:
    """A text without NUL with at least ``count`` characters that are not white space."""
    return "^" + _TEXT + "".join(_VISIBLE + _TEXT for _ in range(count)) + "$"


def state_input_rules(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for node in _nodes(document):
        description = node.get("description")
        if node.get("type") == "string" and description in CODE_LISTS and "enum" not in node:
            node["enum"] = sorted(CODE_LISTS[description]())
    for name in _request_schemas(document):
        for node in _nodes(schemas[name]):
            _text_rule(node)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                for node in _nodes(parameter.get("schema", {})):
                    _text_rule(node)


def _text_rule(node: dict[str, Any]) -> None:
    if node.get("type") != "string" or {"pattern", "enum", "const", "format"} & node.keys():
        return
    least = node.get("minLength", 0)
    node["pattern"] = visible_characters(least) if 0 < least <= 2 else NO_NUL


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _request_schemas(document: dict[str, Any]) -> set[str]:
    """The component schemas a request body uses, directly or through others."""
    schemas = document.get("components", {}).get("schemas", {})
    todo = [ref for operations in document.get("paths", {}).values()
            for operation in operations.values()
            for ref in _refs(operation.get("requestBody", {}))]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _refs(node: Any) -> Iterator[str]:
    for each in _nodes(node):
        ref = each.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.removeprefix("#/components/schemas/")

"""Backward compatibility of event schemas within a major version.

A new schema is backward compatible with an old one when every record written under
the old schema still validates under the new one, so consumers upgraded first can
still read the log. Our models forbid unknown fields, so within a version:

- no property may be removed, and no property may become required;
- a property's accepted values may widen (new enum members, looser bounds, a longer
  maximum length, an extra ``anyOf`` branch) but never narrow;
- types may not change.

    python -m schemas.compat [--history]   check the models against the committed
                                           schemas (and every version in git history)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

Schema = dict[str, Any]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxDigits",
                 "decimalPlaces", "max_digits", "decimal_places")


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` would reject data that ``old`` accepted (empty: compatible)."""
    problems: list[str] = []
    _compare(old, old, new, new, "$", problems)
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in node and seen < 50:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref {ref} not supported")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
        seen += 1
    return node


def _options(node: Schema, root: Schema) -> list[Schema]:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for sub in node[key]:
                out.extend(_options(sub, root))
            return out
    return [node]


def _compare(old: Schema, old_root: Schema, new: Schema, new_root: Schema, path: str,
             problems: list[str]) -> None:
    old_opts = _options(old, old_root)
    new_opts = _options(new, new_root)
    if len(old_opts) > 1 or len(new_opts) > 1:
        for o in old_opts:
            candidates = [n for n in new_opts if _same_kind(o, n)]
            if not candidates:
                problems.append(f"{path}: accepted {_kind(o)} no longer accepted")
                continue
            best: list[str] | None = None
            for n in candidates:
                found: list[str] = []
                _compare_one(o, old_root, n, new_root, path, found)
                if best is None or len(found) < len(best):
                    best = found
            problems.extend(best or [])
        return
    _compare_one(old_opts[0], old_root, new_opts[0], new_root, path, problems)


def _kind(node: Schema) -> str:
    if "const" in node:
        return f"const {node['const']!r}"
    if "enum" in node:
        return "enum"
    return str(node.get("type", "any"))


def _same_kind(a: Schema, b: Schema) -> bool:
    return a.get("type") == b.get("type") or "type" not in b


def _compare_one(old: Schema, old_root: Schema, new: Schema, new_root: Schema, path: str,
                 problems: list[str]) -> None:
    if "type" in new and old.get("type") != new.get("type"):
        problems.append(f"{path}: type changed from {old.get('type')} to {new.get('type')}")
        return
    if "enum" in new:
        missing = set(map(str, old.get("enum", []))) - set(map(str, new["enum"]))
        if "enum" not in old and "const" not in old:
            problems.append(f"{path}: values now restricted to an enum")
        elif missing:
            problems.append(f"{path}: enum values removed: {sorted(missing)}")
    if "const" in new and old.get("const") != new["const"]:
        problems.append(f"{path}: const changed")
    for key in ("pattern", "format"):
        if key in new and old.get(key) != new[key]:
            problems.append(f"{path}: {key} changed from {old.get(key)!r} to {new[key]!r}")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{path}: {key} raised to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{path}: {key} lowered to {new[key]}")
    if old.get("type") == "object" or "properties" in old:
        old_props = old.get("properties", {})
        new_props = new.get("properties", {})
        for name, sub in old_props.items():
            if name not in new_props:
                problems.append(f"{path}.{name}: property removed")
            else:
                _compare(sub, old_root, new_props[name], new_root, f"{path}.{name}", problems)
        newly_required = set(new.get("required", [])) - set(old.get("required", []))
        for name in sorted(newly_required):
            problems.append(f"{path}.{name}: now required")
        closed = new.get("additionalProperties") is False
        if closed and old.get("additionalProperties") is not False:
            problems.append(f"{path}: additional properties now forbidden")
    if "items" in old and "items" in new:
        _compare(old["items"], old_root, new["items"], new_root, f"{path}[]", problems)


def committed_versions(rel: str, repo: Path) -> list[str]:
    """Every committed text of ``rel`` (a path under the repo), oldest first."""
    try:
        revs = subprocess.run(
            ["git", "log", "--format=%H", "--reverse", "--", rel],
            cwd=repo, capture_output=True, text=True, check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    texts = []
    for rev in revs:
        shown = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=repo,
                               capture_output=True, text=True)
        if shown.returncode == 0:
            texts.append(shown.stdout)
    return texts


def check(history: bool) -> list[str]:
    from schemas.generate import OUT, event_file, event_schema
    from schemas.registry import EVENTS

    repo = OUT.parents[1]
    problems: list[str] = []
    for cls in EVENTS:
        rel = event_file(cls)
        olds: list[str] = []
        if (OUT / rel).exists():
            olds.append((OUT / rel).read_text())
        if history:
            olds += committed_versions(str((OUT / rel).relative_to(repo)), repo)
        new = event_schema(cls)
        for text in dict.fromkeys(olds):
            problems += [f"{cls.type} v{cls.version}: {p}"
                         for p in incompatibilities(json.loads(text), new)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check event schemas stay compatible.")
    parser.add_argument("--history", action="store_true",
                        help="also check against every version committed to git")
    args = parser.parse_args(argv)
    problems = check(args.history)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

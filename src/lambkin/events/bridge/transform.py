"""What a target receives of an event: the whole event, a constant `Input`, the part an `InputPath` selects,
or an `InputTransformer`'s template filled from the event (AWS's "Transforming target input")."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambkin import json_depth
from lambkin.events.bridge.errors import Invalid

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_PLACEHOLDER = re.compile(r"<([^<>\s]+)>")
_MISSING = object()


def parse_path(path: str) -> list[str | int]:
    """The steps of a JSONPath in dot notation (`$.detail.items[0]`); Invalid if it is none."""
    if not path.startswith("$"):
        raise Invalid(f"Invalid InputPath for target: {path}")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise Invalid(f"Invalid InputPath for target: {path}")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else name if name is not None else quoted)
        position = match.end()
    return steps


def select(document: Any, path: str) -> Any:
    """The value at `path` in `document`, or `_MISSING`."""
    found = document
    for step in parse_path(path):
        if isinstance(step, int) and isinstance(found, list) and step < len(found):
            found = found[step]
            continue
        if isinstance(step, str) and isinstance(found, dict) and step in found:
            found = found[step]
            continue
        return _MISSING
    return found


def target_input(target: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str, ingested: str) -> str:
    """The text a target is sent for `event` by the rule `rule_arn`."""
    if "Input" in target and target["Input"] is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        chosen = select(event, target["InputPath"])
        return "null" if chosen is _MISSING else json.dumps(chosen)
    transformer = target.get("InputTransformer")
    if transformer:
        return fill(transformer, event, rule_arn, ingested)
    return json.dumps(event)


def fill(transformer: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str, ingested: str) -> str:
    """The template with each `<name>` replaced: inside a JSON string by the value's text (unescaped, as
    AWS does), elsewhere by the value as JSON; a name whose path is missing from the event by nothing
    inside a string and `null` elsewhere."""
    variables: dict[str, Any] = {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_arn.rsplit("/", 1)[-1],
        "aws.events.event.ingestion-time": ingested,
        "aws.events.event": {key: value for key, value in event.items() if key != "detail"},
        "aws.events.event.json": dict(event),
    }
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        variables[name] = select(event, path)
    template = str(transformer["InputTemplate"])
    pieces: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in variables:
            continue
        pieces.append(template[last : match.start()])
        value = variables[name]
        if _in_string(template, match.start()):
            pieces.append("" if value is _MISSING else value if isinstance(value, str) else json.dumps(value))
        else:
            pieces.append("null" if value is _MISSING else json.dumps(value))
        last = match.end()
    pieces.append(template[last:])
    return "".join(pieces)


def _in_string(template: str, position: int) -> bool:
    """Whether `position` of a JSON-ish template lies inside a double-quoted string."""
    inside = False
    escaped = False
    for char in template[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def check_target(target: Mapping[str, Any]) -> str | None:
    """Why PutTargets refuses a target's input settings, or None."""
    given = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key) is not None]
    if len(given) > 1:
        return "Only one of Input, InputPath, or InputTransformer must be provided."
    if target.get("Input") is not None:
        try:
            json_depth.loads(target["Input"])
        except ValueError:
            return "Input is not a valid JSON text."
    try:
        if target.get("InputPath"):
            parse_path(target["InputPath"])
        for key, path in ((target.get("InputTransformer") or {}).get("InputPathsMap") or {}).items():
            if key.startswith("AWS.") or key.startswith("aws."):
                return f"Key {key} in InputPathsMap is reserved."
            parse_path(path)
    except Invalid as exc:
        return exc.message
    return None

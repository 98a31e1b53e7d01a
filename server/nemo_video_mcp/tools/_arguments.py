"""Arguments that do not fit a tool's input schema, as sentences instead of pydantic's report.

The SDK validates a call's arguments against the tool's argument model before the tool runs
(`Tool.run` in `mcp.server.mcpserver.tools.base`) and, on a `ValidationError`, raises a
`ToolError` whose text is pydantic's multi-line report with its error codes and a link to
errors.pydantic.dev. `ArgumentCheckingServer.call_tool` catches exactly that case (a `ToolError`
caused by a `ValidationError`) and raises a `ToolError` saying, for each argument at fault and in
one sentence, which argument, what was given and what the input schema allows:

    Argument format was "avi", but format must be one of "mp4", "mov" or "webm", or be left out
    (default "mp4").
    Argument instruction is required and was not given: it must be a string (what to change, in
    the user's words).

Both protocol eras reach tools through `MCPServer.call_tool`, so this one override covers both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from ..logs import redact

LifespanT = TypeVar("LifespanT")
Schema = Mapping[str, Any]

_SHOWN_CHARS = 80  # a given value longer than this is cut (the caller sent it; no need to echo it all)
_KIND = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "an object",
}
_KINDS = {
    "string": "strings",
    "number": "numbers",
    "integer": "whole numbers",
    "boolean": "true/false values",
    "object": "objects",
}


class ArgumentCheckingServer(MCPServer[LifespanT]):
    """An `MCPServer` whose argument errors name the argument, the value given and what is allowed."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            schema = next((t.input_schema for t in await self.list_tools() if t.name == name), {})
            text = describe_argument_errors(cause.errors(include_url=False), schema)
            # `from cause`: the SDK's handler logs the rejected field names (never the values).
            raise ToolError(f"Error executing tool {name}: {text}") from cause


def describe_argument_errors(errors: Sequence[Mapping[str, Any]], schema: Schema) -> str:
    """One sentence per argument at fault (in the order pydantic reported them)."""
    by_argument: dict[str, Mapping[str, Any]] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        key = str(loc[0]) if loc else ""
        by_argument.setdefault(key, error)  # a union reports one error per member: the first says enough
    sentences = [_sentence(key, error, schema) for key, error in by_argument.items()]
    return redact(" ".join(sentences))


def _sentence(argument: str, error: Mapping[str, Any], schema: Schema) -> str:
    if not argument:
        return f"The arguments were not understood: {str(error.get('msg', 'invalid input')).rstrip('.')}."
    properties: Mapping[str, Any] = schema.get("properties", {})
    prop: Schema = properties.get(argument, {})
    required = argument in schema.get("required", ())
    allowed = _allowed(prop, schema) if prop else "an argument this tool does not take"
    if error.get("type") == "missing":
        what = f" ({prop['description']})" if prop.get("description") else ""
        return f"Argument {argument} is required and was not given: it must be {allowed}{what}."
    if error.get("type") == "finite_number":  # allow_inf_nan=False is not in the JSON schema
        allowed = allowed.replace("a number", "a finite number", 1)
    loc = tuple(error.get("loc", ()))
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    omit = "" if required else _omit(prop)
    given = _shown(error.get("input"))
    return f"Argument {argument}{where} was {given}, but {argument} must be {allowed}{omit}."


def _omit(prop: Schema) -> str:
    default = prop.get("default")
    if default is None or default in ([], {}, ""):
        return ", or be left out"
    return f", or be left out (default {_shown(default)})"


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _allowed(prop: Schema, root: Schema) -> str:
    options = prop.get("anyOf") or prop.get("oneOf") or [prop]
    kinds = [_kind(_resolve(option, root), root) for option in options]
    kinds = [k for k in dict.fromkeys(kinds) if k != "null"]
    return " or ".join(kinds) or "a value"


def _resolve(option: Schema, root: Schema) -> Schema:
    ref = option.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Schema = root.get("$defs", {}).get(ref.rsplit("/", 1)[1], {})
        return resolved
    return option


def _kind(option: Schema, root: Schema) -> str:
    kind = option.get("type")
    if "enum" in option:
        text = "one of " + _or([_shown(v) for v in option["enum"]])
    elif "const" in option:
        text = _shown(option["const"])
    elif kind in ("number", "integer"):
        text = _KIND[kind] + _bounds(option)
    elif kind == "array":
        text = _list_kind(_resolve(option.get("items", {}), root))
    else:
        text = "null" if kind == "null" else _KIND.get(str(kind), "a value")
    return text


def _list_kind(items: Schema) -> str:
    if "enum" in items:
        return "a list of values, each one of " + _or([_shown(v) for v in items["enum"]])
    item_kind = items.get("type")
    return f"a list of {_KINDS[item_kind]}" if item_kind in _KINDS else "a list"


def _bounds(option: Schema) -> str:
    parts = []
    if "minimum" in option:
        parts.append(f"at least {option['minimum']:g}")
    if "exclusiveMinimum" in option:
        parts.append(f"greater than {option['exclusiveMinimum']:g}")
    if "maximum" in option:
        parts.append(f"at most {option['maximum']:g}")
    if "exclusiveMaximum" in option:
        parts.append(f"less than {option['exclusiveMaximum']:g}")
    return (" of " + " and ".join(parts)) if parts else ""


def _or(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]

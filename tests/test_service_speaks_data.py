"""Only `tools/` speaks MCP: no string in `service/` names a tool or an argument of the MCP surface.

The service returns and raises data (views, outcomes, errors with fields); every sentence the
assistant reads, and so every mention of a tool or an argument, is written in `tools/`. Renaming a
tool or an argument is then a change in `tools/` alone, and the service cannot tell the assistant
to call something that no longer exists.

The rule, checked on the syntax tree of every module under `server/nemo_video_mcp/service/`:
- the names come from the server itself: its tool list (through `mcp.Client`, in memory) and the
  properties of each tool's input schema;
- every string literal is checked, f-string parts included; docstrings are not (they document the
  Python code, whose methods and parameters may share a name with a tool or an argument, and never
  reach the assistant), nor are names of variables or keyword arguments (they are not text);
- a tool name anywhere in a string, as a whole word, fails;
- an argument name fails in the forms an assistant is told to use: in backticks (`` `paths` ``),
  followed by `=` (`turn_id=`, `session_id="…"`), or for names that are not plain English words
  (the ones with an underscore: `session_id`, `wait_seconds`...) as a whole word anywhere; plain
  words (`skill`, `format`, `paths`...) are ordinary prose otherwise;
- SQL is not the MCP surface: a literal that is an SQL statement (it starts with SELECT, INSERT,
  UPDATE, DELETE, CREATE, ALTER, DROP or PRAGMA), and the store's schema migrations, may name the
  store's columns (`session_id`, `turn_id`...).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator
from support_common import connect, settings_for

SERVICE = Path(__file__).parents[1] / "server" / "nemo_video_mcp" / "service"
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA)\b", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _migrations(tree: ast.AST) -> set[int]:
    """The string constants of the store's `MIGRATIONS = (...)` (SQL, not the MCP surface)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "MIGRATIONS" for t in targets) and node.value:
                ids |= {id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return ids


def strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal that is not a docstring, an SQL statement (with what is
    nested in it, e.g. a default `SET` clause) or a migration."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _migrations(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its text with the holes left empty
            parts = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            text = "".join(parts)
            skip |= {id(v) for v in node.values}
            if SQL.match(text):
                skip |= {id(c) for c in ast.walk(node)}
            else:
                yield node.lineno, text
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and not SQL.match(node.value)
        ):
            yield node.lineno, node.value


def offences(source: str, tools: set[str], arguments: set[str]) -> list[str]:
    found = []
    for line, text in strings(source):
        for tool in sorted(tools):
            if re.search(rf"\b{re.escape(tool)}\b", text):
                found.append(f"line {line}: tool {tool!r} in {text!r}")
        for arg in sorted(arguments):
            name = re.escape(arg)
            forms = [rf"`{name}`", rf"\b{name}\s*="] + ([rf"\b{name}\b"] if "_" in arg else [])
            if any(re.search(form, text) for form in forms):
                found.append(f"line {line}: argument {arg!r} in {text!r}")
    return found


@pytest.fixture
async def surface(emulator: Emulator, tmp_path: Path) -> tuple[set[str], set[str]]:
    """The tool names and argument names, from the server's own tool list."""
    async with connect(settings_for(emulator, tmp_path), "legacy") as client:
        tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    arguments = {arg for t in tools for arg in t.input_schema.get("properties", {})}
    assert {"send_edit", "export_video"} <= names  # the list is the real one
    assert {"session_id", "wait_seconds", "paths"} <= arguments
    return names, arguments


@pytest.mark.anyio
async def test_no_service_module_names_a_tool_or_an_argument(surface: tuple[set[str], set[str]]) -> None:
    tools, arguments = surface
    modules = sorted(SERVICE.glob("*.py"))
    assert len(modules) > 10
    found = [
        f"{path.name} {offence}"
        for path in modules
        for offence in offences(path.read_text(encoding="utf-8"), tools, arguments)
    ]
    assert found == [], "service/ words text for the assistant; move it to tools/:\n" + "\n".join(found)


TOOLS = {"send_edit", "get_edit_result", "get_state", "upload_media", "export_video"}
ARGS = {"turn_id", "paths", "urls", "session_id", "wait_seconds", "skill", "download"}


@pytest.mark.parametrize(
    "source",
    [  # as the service wrote them before it spoke data
        'x = f"call get_edit_result(turn_id={tid!r}) first, then send the new instruction."',
        'x = "Nothing to upload: give local file paths in `paths` or http(s) links in `urls`."',
        'x = "Exported; the file is at the url (call get_export_status with download=true to save it)."',
        'x = f"(omit session_id, or pass session_id=\\"{new}\\")"',
        'RULES = [(p, lambda m: "use export_video")]',
    ],
)
def test_the_rule_catches_assistant_facing_text(source: str) -> None:
    assert offences(source, TOOLS | {"get_export_status"}, ARGS)


@pytest.mark.parametrize(
    "source",
    [
        'def send_edit(session_id, wait_seconds):\n    """`wait_seconds` as asked; see send_edit."""',
        "sql = \"SELECT * FROM turns WHERE session_id = ? AND status = 'running'\"",
        'MIGRATIONS = ("""CREATE TABLE current (skill TEXT, session_id TEXT)""",)',
        'log.info("edit started", turn_id=turn_id, session_id=ref.session_id)',
        'x = f"unknown {kind} {handle!r}"',
        'x = "which skill to use, in which format, and whether to download"',
    ],
)
def test_the_rule_leaves_code_sql_and_prose_alone(source: str) -> None:
    assert offences(source, TOOLS, ARGS) == []

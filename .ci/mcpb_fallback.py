"""Lay out the fallback MCPB bundle: manifest 0.2, `python` server type, uv found on the PATH.

`manifest.json` declares MCPB's `uv` server type (manifest 0.4): a host with the uv runtime runs
its own uv with the manifest's `mcp_config.args`, so nothing needs to be installed first. A host
whose manifest reader stops at 0.2 or 0.3 refuses such a bundle; for it, this builds the same
bundle as it was before 0.4 (same files, same command, same settings): `python` type, started by
whatever `uv` the host finds.

    python3 .ci/mcpb_fallback.py DEST        # then: npx @anthropic-ai/mcpb pack DEST OUT.mcpb

DEST (created, must not exist) receives the files the bundle needs and the derived manifest.json;
`mcpb pack` still applies .mcpbignore to it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FILES = ("pyproject.toml", "uv.lock", "README.md", ".mcpbignore")
FOLDERS = ("server", "skills")
HOST_UV = (
    "Nothing to install first: the host's uv runtime provides Python and the packages (the first start "
    "downloads them, so it needs the internet once)."
)
PATH_UV = (
    "Requires uv (https://docs.astral.sh/uv/) installed where the host can find it (an absolute path "
    "may be needed: GUI apps do not see the shell's PATH); the first start downloads the packages."
)


def fallback_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` as a 0.2 manifest whose `python` server is started by the `uv` on the PATH."""
    derived = json.loads(json.dumps(manifest))
    derived["manifest_version"] = "0.2"
    derived["server"]["type"] = "python"
    description = derived["long_description"]
    if HOST_UV not in description:
        raise SystemExit("manifest.json's long_description changed: update HOST_UV in .ci/mcpb_fallback.py")
    derived["long_description"] = description.replace(HOST_UV, PATH_UV)
    return derived


def lay_out(dest: Path) -> None:
    dest.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in FOLDERS:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps(fallback_manifest(manifest), indent=2, ensure_ascii=False) + "\n"
    (dest / "manifest.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    lay_out(Path(sys.argv[1]))

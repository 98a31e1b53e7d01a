"""nemo-video-mcp: an MCP server for NemoVideo's cloud video editing.

Three layers, imports flowing one way:

    backend/   a typed async client of the NemoVideo API (httpx2, pydantic); knows nothing of MCP
    tools/     the MCP surface (tools, resources, prompts); knows nothing of httpx2
    app.py     the composition root: reads settings, configures logging, wires the two

`emulator/` is a local stand-in for the backend (tests, benchmarks and `--sandbox`); it shares no
code with `backend/`.
"""

__version__ = "0.1.0"

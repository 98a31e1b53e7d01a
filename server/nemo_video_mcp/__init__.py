"""nemo-video-mcp: an MCP server for NemoVideo's cloud video editing.

Four layers, imports flowing one way (enforced by the import-linter contracts in pyproject.toml):

    backend/   a typed async client of the NemoVideo API (httpx2, pydantic); knows nothing of MCP
    service/   the workspace: sessions, uploads, edit turns, renders, the SQLite store; speaks data,
               knows nothing of MCP or httpx2
    tools/     the MCP surface (tools, resources, prompts) and every sentence the assistant reads
    app.py     the composition root: wires settings, skills, client, store and workspace into the server

`cli.py` parses the command line, configures logging (`logs.py`) and runs a transport.

`emulator/` is a local stand-in for the backend (tests, benchmarks and `--sandbox`); it shares no
code with `backend/`.
"""

__version__ = "0.1.0"

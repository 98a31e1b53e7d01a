"""Entry point of the MCPB bundle (manifest.json `server.entry_point`).

The bundle host runs `uv run ... python server/main.py`: this file puts its own folder on
`sys.path` so `nemo_video_mcp` is importable without installing the project, then hands over
to the same `main` as the `nemo-video-mcp` command.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nemo_video_mcp.cli import main  # importable once the path above is set

if __name__ == "__main__":
    sys.exit(main())

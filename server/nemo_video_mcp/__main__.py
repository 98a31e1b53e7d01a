"""`python -m nemo_video_mcp` runs the same command as `nemo-video-mcp`."""

import sys

from .cli import main

sys.exit(main())

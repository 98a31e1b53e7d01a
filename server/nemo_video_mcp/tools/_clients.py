"""Who is calling, when the HTTP transport keeps its clients apart (`--isolate-clients`).

Each HTTP client is known by its bearer token (one of NEMO_HTTP_TOKEN's comma-separated tokens):
the bearer check in front of the app has already refused any other, and it is verified again
here (in constant time) before it names a client. A client is named by a label derived from the
token (`t:` and 16 hex digits of its SHA-256), which is what the store keeps; never the token.
Without isolation, or without HTTP headers (stdio, in-process), every call is the one shared
client ''.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from mcp.server.mcpserver.exceptions import ToolError

SHARED = ""


def bearer(headers: Mapping[str, str] | None) -> str | None:
    """The bearer token of a request's headers, or None."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def client_of(headers: Mapping[str, str] | None, tokens: Sequence[str]) -> str:
    """The label of the client whose verified bearer token `headers` carry; '' without headers."""
    if headers is None:
        return SHARED
    token = bearer(headers)
    if token is None or not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
        raise ToolError("This server keeps its HTTP clients apart: send Authorization: Bearer <your token>.")
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:16]

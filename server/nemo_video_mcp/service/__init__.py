"""The service layer: sessions, turns, renders, the durable store and the local file policy.

Knows nothing of MCP or httpx2 (see docs/ARCHITECTURE.md).
"""

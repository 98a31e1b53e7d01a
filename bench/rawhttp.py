"""A bare HTTP/1.1 sink and source on raw sockets: the ceiling the emulator is compared against.

    python bench/rawhttp.py [FILE]   # prints its URL, serves until stdin closes

- any POST: the body (Content-Length) is read into one reused buffer and dropped; the answer is a
  NemoVideo envelope with one uploaded file, so the backend client accepts it too;
- GET /api/state/...: an empty session state (the server checks once that a session id it has not
  seen exists at NemoVideo before uploading into it);
- GET /bytes/<n>: n bytes sent from one prebuilt 1 MiB block;
- GET /file: FILE, sent with sendfile(2) (zero-copy: the fastest a source can be);
- anything else: 404. One thread per connection, keep-alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading

BLOCK = bytes(range(256)) * 4096
STATE = json.dumps({"code": 0, "message": "ok", "data": {"state": {}}}).encode()
ANSWER = json.dumps(
    {"code": 0, "message": "ok", "data": {"files": [{"filename": "x.mp4", "cdn_url": "http://cdn/x.mp4"}]}}
).encode()


def _headers(conn: socket.socket, buf: bytearray) -> tuple[str, dict[str, str]] | None:
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    buf[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def _drain(conn: socket.socket, buf: bytearray, length: int) -> None:
    take = min(len(buf), length)
    del buf[:take]
    left = length - take
    sink = bytearray(1 << 20)
    view = memoryview(sink)
    while left > 0:
        n = conn.recv_into(view, min(left, len(sink)))
        if n == 0:
            raise ConnectionError("client went away")
        left -= n


def _send(conn: socket.socket, size: int) -> None:
    view = memoryview(BLOCK)
    while size > 0:
        n = min(size, len(BLOCK))
        conn.sendall(view[:n])
        size -= n


def serve(conn: socket.socket) -> None:
    buf = bytearray()
    with conn:
        while True:
            got = _headers(conn, buf)
            if got is None:
                return
            request, headers = got
            method, path = request.split(" ")[:2]
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if method == "POST":
                _drain(conn, buf, int(headers.get("content-length", "0")))
                head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(ANSWER)}"
                conn.sendall(head.encode() + b"\r\n\r\n" + ANSWER)
            elif method == "GET" and path.startswith("/api/state/"):
                head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(STATE)}"
                conn.sendall(head.encode() + b"\r\n\r\n" + STATE)
            elif method == "GET" and path == "/file" and len(sys.argv) > 1:
                with open(sys.argv[1], "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    head = f"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {size}\r\n\r\n"
                    conn.sendall(head.encode())
                    conn.sendfile(f)
            elif method == "GET" and path.startswith("/bytes/"):
                size = int(path.rsplit("/", 1)[1])
                head = f"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {size}\r\n\r\n"
                conn.sendall(head.encode())
                _send(conn, size)
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")


def main() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"http://127.0.0.1:{listener.getsockname()[1]}", flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_safe, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()  # until the bench closes our stdin


def _safe(conn: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        serve(conn)


if __name__ == "__main__":
    main()

"""A real HTTP server on a free loopback port, in a thread, for tests that need one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(make_app: Callable[[int], FastAPI], *, ready_within: float = 60) -> Iterator[str]:
    """Serve ``make_app(port)`` with uvicorn until the block ends; yields the base URL once
    ``/ready`` answers 200, and fails the test if it never does."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(port), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet: retried until the deadline below
            if time.monotonic() > deadline:
                raise AssertionError(f"the service at {url} did not become ready in {ready_within} s")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""The embeddable chat widget (``/widget.js``) and a demo page hosting it (``/``)."""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
DEMO_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; base-uri 'none'"


@functools.cache
def asset(name: str) -> str:
    return (resources.files("qa.api") / "web" / name).read_text(encoding="utf-8")


@router.get("/widget.js")
def widget() -> Response:
    return Response(
        asset("widget.js"), media_type="application/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"}
    )


@router.get("/")
def demo() -> HTMLResponse:
    return HTMLResponse(asset("demo.html"), headers={"Content-Security-Policy": DEMO_POLICY})

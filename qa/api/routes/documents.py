"""``GET /documents``, one document's details, and its page with a passage highlighted."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from qa.api.deps import PublicCaller, ServiceDep
from qa.api.errors import ACCESS_ERRORS, ERRORS, NOT_FOUND, as_json
from qa.serving.schemas.documents import DocumentDetail, DocumentList, document_detail, document_summary
from qa.serving.views import PAGE_SCRIPT, PAGE_STYLE, render_document, render_page
from qa.serving.views import SCRIPT as VIEW_SCRIPT
from qa.serving.views import STYLE as VIEW_STYLE

router = APIRouter(tags=["documents"])


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def policy(style: str, script: str) -> str:
    return (
        f"default-src 'none'; style-src {csp_hash(style)}; script-src {csp_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )


VIEW_POLICY = policy(VIEW_STYLE, VIEW_SCRIPT)
PAGE_POLICY = policy(PAGE_STYLE, PAGE_SCRIPT)


@router.get(
    "/documents", response_model=DocumentList, responses={**ERRORS, **ACCESS_ERRORS}, summary="All indexed documents"
)
def documents(service: ServiceDep, _: PublicCaller) -> DocumentList:
    records = service.documents()
    return DocumentList(total=len(records), documents=[document_summary(r) for r in records])


@router.get(
    "/documents/{doc_id:path}/view",
    response_class=HTMLResponse,
    responses=as_json({**ERRORS, **NOT_FOUND, **ACCESS_ERRORS}),
    summary="The document as a readable page, the cited passage highlighted",
)
def view(
    doc_id: str,
    service: ServiceDep,
    _: PublicCaller,
    passage: Annotated[
        str | None,
        Query(max_length=64, description="Id of the passage to highlight (a chunk_id of /query or /chat)."),
    ] = None,
    raw: Annotated[bool, Query(description="The exact source text instead (for checking offsets).")] = False,
) -> HTMLResponse:
    """The document as a page: rendered, the passage named by ``passage`` highlighted and
    scrolled to; with ``raw=1`` the exact source text, the passage named by the URL fragment
    highlighted."""
    record, places = service.document(doc_id), service.places(doc_id)
    if raw:
        return HTMLResponse(render_document(record, places), headers={"Content-Security-Policy": VIEW_POLICY})
    cited = next((p for p in places if p.id == passage), None)
    note = None
    if passage and cited is None:
        note = "The cited passage is no longer in this document (the index has changed); the whole document is shown."
    page = render_page(record, cited, note)
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentDetail,
    responses={**ERRORS, **NOT_FOUND, **ACCESS_ERRORS},
    summary="One document: metadata, FAQ pairs and section outline",
)
def document(doc_id: str, service: ServiceDep, _: PublicCaller) -> DocumentDetail:
    return document_detail(service.document(doc_id))

"""``GET /documents``, one document's details, and its page with a passage highlighted."""

from __future__ import annotations

import base64
import hashlib

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from qa.api.deps import PublicCaller, ServiceDep
from qa.api.errors import ACCESS_ERRORS, ERRORS, NOT_FOUND, as_json
from qa.serving.schemas.documents import DocumentDetail, DocumentList, document_detail, document_summary
from qa.serving.views import SCRIPT as VIEW_SCRIPT
from qa.serving.views import STYLE as VIEW_STYLE
from qa.serving.views import render_document

router = APIRouter(tags=["documents"])


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


VIEW_POLICY = (
    f"default-src 'none'; style-src {csp_hash(VIEW_STYLE)}; script-src {csp_hash(VIEW_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'"
)


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
    summary="The document as a page, the passage named by the URL fragment highlighted",
)
def view(doc_id: str, service: ServiceDep, _: PublicCaller) -> HTMLResponse:
    page = render_document(service.document(doc_id), service.places(doc_id))
    return HTMLResponse(page, headers={"Content-Security-Policy": VIEW_POLICY})


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentDetail,
    responses={**ERRORS, **NOT_FOUND, **ACCESS_ERRORS},
    summary="One document: metadata, FAQ pairs and section outline",
)
def document(doc_id: str, service: ServiceDep, _: PublicCaller) -> DocumentDetail:
    return document_detail(service.document(doc_id))

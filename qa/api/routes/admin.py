"""``POST /admin/reload``: swap in the index now at the configured directory, or refuse it.

Until API keys exist, admin routes answer only clients on the loopback interface."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from qa.api.deps import HolderDep
from qa.api.errors import ERRORS, Forbidden
from qa.serving.schemas.admin import ReloadResponse
from qa.serving.schemas.common import ErrorResponse

router = APIRouter(prefix="/admin", tags=["admin"])


def loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise Forbidden(f"admin routes answer only loopback clients, not {host or 'an unknown client'}")


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={**ERRORS, 403: {"model": ErrorResponse, "description": "Not allowed from this client."}},
    summary="Load the index at the configured directory beside the serving one and swap to it",
    dependencies=[Depends(loopback_only)],
)
async def reload(request: Request, holder: HolderDep) -> ReloadResponse:
    """200 either way: ``reloaded`` says whether the new index serves; ``error`` says why it was
    refused (the old index keeps serving)."""
    outcome = await run_in_threadpool(holder.reload, request.app.state.settings)
    return ReloadResponse(**vars(outcome))

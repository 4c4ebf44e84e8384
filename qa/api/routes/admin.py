"""``POST /admin/reload``: swap in the index now at the configured directory, or refuse it.

It needs an ``admin`` key when keys are configured; with no keys it answers loopback clients only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from qa.api.deps import AdminCaller, HolderDep
from qa.api.errors import ACCESS_ERRORS, ERRORS
from qa.serving.schemas.admin import ReloadResponse

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={**ERRORS, **ACCESS_ERRORS},
    summary="Load the index at the configured directory beside the serving one and swap to it",
)
async def reload(request: Request, holder: HolderDep, _: AdminCaller) -> ReloadResponse:
    """200 either way: ``reloaded`` says whether the new index serves; ``error`` says why it was
    refused (the old index keeps serving)."""
    outcome = await run_in_threadpool(holder.reload, request.app.state.settings)
    return ReloadResponse(**vars(outcome))

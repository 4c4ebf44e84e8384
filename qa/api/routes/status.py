"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from qa import __version__
from qa.api.deps import HolderDep, ServiceDep
from qa.api.errors import ERRORS
from qa.serving.schemas.admin import ReloadResponse
from qa.serving.schemas.status import Health, Ready

router = APIRouter(tags=["status"])


@router.get("/health", response_model=Health, summary="Liveness: the process is up")
def health() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/ready", response_model=Ready, responses=ERRORS, summary="Readiness: an index is loaded")
def ready(service: ServiceDep, holder: HolderDep) -> Ready:
    return Ready(
        ready=True,
        documents=len(service.index.documents),
        chunks=len(service.index.chunks),
        model=service.index.model_id,
        fingerprint=service.index.fingerprint,
        stale=list(holder.stale),
        calibrated=service.index.calibration is not None,
        calibration_note=service.index.calibration_note,
        encoder=service.embedder.encoder,
        reloads=dict(holder.reloads),
        last_reload=None if holder.last_reload is None else ReloadResponse(**vars(holder.last_reload)),
    )

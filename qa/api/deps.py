"""Dependencies the routes declare, as ``Annotated`` aliases. Tests replace ``get_service``
through ``app.dependency_overrides`` to inject a service with a fake embedder."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.api.errors import ServiceUnavailable
from qa.serving.holder import ServiceHolder
from qa.serving.service import QAService


def get_holder(request: Request) -> ServiceHolder:
    return request.app.state.holder


def get_service(holder: Annotated[ServiceHolder, Depends(get_holder)]) -> QAService:
    """The loaded service, or 503 with the reason there is none (yet)."""
    if holder.service is None:
        raise ServiceUnavailable(holder.error or "the index is still loading; retry in a few seconds")
    return holder.service


HolderDep = Annotated[ServiceHolder, Depends(get_holder)]
ServiceDep = Annotated[QAService, Depends(get_service)]

"""Dependencies the routes declare, as ``Annotated`` aliases. Tests replace ``get_service``
through ``app.dependency_overrides`` to inject a service with a fake embedder."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.api.access import Access, public_access
from qa.api.errors import ServiceUnavailable
from qa.keys import ApiKey
from qa.serving.holder import ServiceHolder
from qa.serving.metrics import Metrics
from qa.serving.service import QAService
from qa.settings import Settings


def get_holder(request: Request) -> ServiceHolder:
    return request.app.state.holder


def get_service(holder: Annotated[ServiceHolder, Depends(get_holder)]) -> QAService:
    """The loaded service, or 503 with the reason there is none (yet)."""
    if holder.service is None:
        raise ServiceUnavailable(holder.error or "the index is still loading; retry in a few seconds")
    return holder.service


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


HolderDep = Annotated[ServiceHolder, Depends(get_holder)]
ServiceDep = Annotated[QAService, Depends(get_service)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# Access: the key for a role, checked with the caller's rate limit (see qa/api/access.py).
PublicCaller = Annotated[ApiKey | None, Depends(public_access)]
QueryCaller = Annotated[ApiKey | None, Depends(Access("query"))]
MetricsCaller = Annotated[ApiKey | None, Depends(Access("metrics"))]
AdminCaller = Annotated[ApiKey | None, Depends(Access("admin"))]

"""``GET /metrics``: Prometheus text format (prometheus-client). Needs a ``metrics`` or
``admin`` key when keys are configured."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from qa.api.deps import MetricsCaller, MetricsDep
from qa.api.errors import ACCESS_ERRORS

router = APIRouter(tags=["status"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}, **ACCESS_ERRORS},
    summary="Prometheus metrics: requests, latency, encoder batches, match levels, index, reloads, rate limits",
)
def metrics(registry: MetricsDep, _: MetricsCaller) -> Response:
    body, content_type = registry.exposition()
    return Response(body, media_type=content_type)

"""The HTTP adapter (FastAPI): ``app`` builds the application, ``deps`` holds the dependencies
routes take, ``routes/`` has one router per resource. Nothing outside this package imports
FastAPI or Starlette."""

from qa.api.app import create_app
from qa.api.deps import get_service

__all__ = ["create_app", "get_service"]

"""Wire format shared by the HTTP API and ``qa ask --json``: pydantic models with every field
described (they are what ``/docs`` shows), and converters from core objects. One module per
resource: ``query``, ``documents``, ``chat``, ``status``; ``common`` holds shared pieces."""

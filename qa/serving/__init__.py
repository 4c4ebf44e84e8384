"""Beside the pipeline: what the adapters serve. The service facade, chat turns, document
pages, and the wire schemas. Framework-free: the HTTP and CLI adapters call into it."""

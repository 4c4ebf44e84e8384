"""Beside the pipeline: retrieval-quality evaluation. Gold sets, the FAQ set, metrics,
runs, reports and the CI gate."""

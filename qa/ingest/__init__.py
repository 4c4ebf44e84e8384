"""Stage 1, ingest: corpus files in, parsed documents out (metadata, sections with exact
source spans, FAQ pairs, dropped site chrome). Bad files are skipped, named and counted."""

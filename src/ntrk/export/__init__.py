"""Lineage out to the standards: OpenLineage events (`openlineage`) and W3C PROV (`prov`).

`naming` says what a repository, a file and a run are called outside ntrk; `delivery` hands
events to the configured OpenLineage transport within its timeout. Nothing here imports the
OpenLineage client or the `prov` package until an event or a document is built.
"""

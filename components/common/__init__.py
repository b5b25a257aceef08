"""Shared building blocks: typed configuration, snapshots, Spark session, git lineage."""

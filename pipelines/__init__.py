"""rankops pipelines: KFP pipeline definitions, their compiler and the `rankops` CLI."""

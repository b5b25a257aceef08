"""Validate custom resources against the CRD schemas kept in tests/support/crds/.

kubernetes-validate knows only the built-in kinds; Argo CD's Application/AppProject and
Kubeflow's PodDefault are checked here against the openAPIV3Schema of their upstream CRDs (source
repository, tag and commit recorded in each JSON file's `source`). Strict like
`kubernetes_validate.validate(..., strict=True)`: a field the schema does not define is an error
(the API server would silently prune it), except where the schema keeps unknown fields.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

CRDS = Path(__file__).with_name("crds")


@cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in sorted(CRDS.glob("*.json")):
        crd = json.loads(path.read_text())
        for version, schema in crd["versions"].items():
            out[(f"{crd['group']}/{version}", crd["kind"])] = _strict(copy.deepcopy(schema))
    return out


def _strict(node: Any) -> Any:
    """Close every object schema that lists its properties (metadata is the API server's)."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node and \
                not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for key, value in node.items():
            if key != "metadata":
                _strict(value)
            elif isinstance(value, dict) and "type" in value:
                value.pop("properties", None)
                value.pop("additionalProperties", None)
    elif isinstance(node, list):
        for item in node:
            _strict(item)
    return node


def known(doc: dict[str, Any]) -> bool:
    return (doc.get("apiVersion"), doc.get("kind")) in _schemas()


def validate_custom(doc: dict[str, Any]) -> list[str]:
    """Schema errors of one custom resource ([] when valid); unknown kinds are an error too."""
    schema = _schemas().get((doc.get("apiVersion"), doc.get("kind")))
    if schema is None:
        return [f"no CRD schema for {doc.get('apiVersion')} {doc.get('kind')} in {CRDS}"]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]

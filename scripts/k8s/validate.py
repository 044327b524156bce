#!/usr/bin/env python3
"""Strict offline schema validation of rendered Kubernetes manifests.

Every object is validated against a JSON schema, and an object without one fails the run
(no object is ever skipped):
  - core Kubernetes kinds: the strict schemas shipped by the PyPI package
    kubernetes-validate (unknown fields are errors), for each --k8s-version given;
  - custom resources: <crd-schemas>/<group>/<kind>_<version>.json (the datreeio CRD
    catalog layout of ../shared/k8s-schemas), made strict at the top level too, with
    `metadata` checked against the core ObjectMeta schema.

Usage: validate.py --crd-schemas DIR [--k8s-version 1.30 ...] FILE...   ('-' = stdin)
Prints one line per invalid object and a kubeconform-style summary; exits 1 on any
invalid or skipped object.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import importlib_resources
import jsonschema
import yaml
from referencing import Registry, Resource

SCHEMA_ROOT = importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (a silent override is a bug)."""


def _mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class CoreSchemas:
    """Strict core schemas of one Kubernetes minor version (kubernetes-validate's layout)."""

    def __init__(self, version: str):
        available = sorted(
            (p.name for p in SCHEMA_ROOT.iterdir() if p.name.endswith("-local-strict")),
            key=lambda n: tuple(int(x) for x in n[1:].split("-")[0].split(".")[:2]),
        )
        wanted = f"v{version}.0-local-strict"
        if wanted not in available:
            raise SystemExit(
                f"kubernetes-validate has no schemas for Kubernetes {version}; it has "
                + ", ".join(a.split("-")[0][1:].rsplit(".", 1)[0] for a in available)
            )
        self.version = version
        self.dir = SCHEMA_ROOT.joinpath(wanted)
        defs = json.loads(self.dir.joinpath("_definitions.json").read_text())
        self.defs = defs
        self.registry = Registry().with_resource(defs["$id"], Resource.from_contents(defs))
        self.validators: dict[str, jsonschema.protocols.Validator | None] = {}

    def validator(self, api_version: str, kind: str):
        # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1
        flat = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        name = f"{kind.lower()}-{flat}.json"
        if name not in self.validators:
            path = self.dir.joinpath(name)
            if not path.is_file():
                self.validators[name] = None
            else:
                schema = json.loads(path.read_text())
                registry = self.registry.with_resource(
                    schema.get("$id", f"https://kubernetes.io/api/{name}"), Resource.from_contents(schema)
                )
                self.validators[name] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self.validators[name]

    def object_meta_validator(self):
        if "__meta__" not in self.validators:
            schema = {"$ref": f"{self.defs['$id']}#/$defs/{OBJECT_META}"}
            self.validators["__meta__"] = jsonschema.Draft202012Validator(schema, registry=self.registry)
        return self.validators["__meta__"]


class CrdSchemas:
    def __init__(self, root: Path):
        self.root = root
        self.groups = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
        self.validators: dict[Path, jsonschema.protocols.Validator | None] = {}

    def handles(self, group: str) -> bool:
        return group in self.groups

    def validator(self, group: str, version: str, kind: str):
        path = self.root / group / f"{kind.lower()}_{version}.json"
        if path not in self.validators:
            if not path.is_file():
                self.validators[path] = None
            else:
                schema = json.loads(path.read_text())
                # Strict at the top level too: the catalog closes nested objects only.
                schema = copy.deepcopy(schema)
                schema.setdefault("additionalProperties", False)
                props = schema.setdefault("properties", {})
                for key in ("apiVersion", "kind"):
                    props.setdefault(key, {"type": "string"})
                props.setdefault("metadata", {"type": "object"})
                schema.setdefault("required", [])
                for key in ("apiVersion", "kind", "metadata"):
                    if key not in schema["required"]:
                        schema["required"].append(key)
                self.validators[path] = jsonschema.Draft7Validator(schema)
        return self.validators[path]


def describe(error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(root)"
    return f"{where.lstrip('.')}: {error.message}"


def load(paths: list[str]) -> list[tuple[str, dict]]:
    docs = []
    for p in paths:
        text = sys.stdin.read() if p == "-" else Path(p).read_text()
        for doc in yaml.load_all(text, Loader=UniqueKeyLoader):
            if doc is None:
                continue
            if doc.get("kind", "").endswith("List") and "items" in doc:
                docs.extend((p, item) for item in doc["items"])
            else:
                docs.append((p, doc))
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crd-schemas", required=True, type=Path)
    ap.add_argument("--k8s-version", action="append", help="Kubernetes minor version, e.g. 1.30 (repeatable)")
    ap.add_argument("--label", default=None, help="name used in the summary line")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    if not args.crd_schemas.is_dir():
        print(f"CRD schema folder {args.crd_schemas} does not exist (K8S_CRD_SCHEMAS)", file=sys.stderr)
        return 2
    cores = [CoreSchemas(v) for v in (args.k8s_version or ["1.30"])]
    crds = CrdSchemas(args.crd_schemas)
    try:
        docs = load(args.files)
    except yaml.YAMLError as e:
        print(f"cannot parse YAML: {e}", file=sys.stderr)
        return 1

    valid = invalid = skipped = 0
    for source, obj in docs:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name", "?")
        ident = f"{source}: {kind}/{name} ({api_version})"
        if not isinstance(api_version, str) or not isinstance(kind, str):
            print(f"INVALID {source}: an object without apiVersion/kind: {str(obj)[:120]}")
            invalid += 1
            continue
        group, _, version = api_version.rpartition("/")
        errors: list[str] = []
        if crds.handles(group):
            v = crds.validator(group, version, kind)
            if v is None:
                print(f"SKIPPED {ident}: no schema {group}/{kind.lower()}_{version}.json in {args.crd_schemas}")
                skipped += 1
                continue
            errors += [describe(e) for e in v.iter_errors(obj)]
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                for e in cores[0].object_meta_validator().iter_errors(meta):
                    where, _, message = describe(e).partition(": ")
                    errors.append(f"metadata{'' if where == '(root)' else '.' + where}: {message}")
        else:
            found = False
            for core in cores:
                v = core.validator(api_version, kind)
                if v is None:
                    continue
                found = True
                errors += [f"[k8s {core.version}] {describe(e)}" for e in v.iter_errors(obj)]
            if not found:
                print(f"SKIPPED {ident}: no core schema for Kubernetes {', '.join(c.version for c in cores)} and no CRD schema")
                skipped += 1
                continue
        if errors:
            invalid += 1
            for err in sorted(set(errors)):
                print(f"INVALID {ident}: {err}")
        else:
            valid += 1

    label = args.label or ", ".join(args.files)
    versions = ", ".join(c.version for c in cores)
    print(
        f"Summary: {len(docs)} resources found in {label} (Kubernetes {versions} + CRDs) - "
        f"Valid: {valid}, Invalid: {invalid}, Errors: 0, Skipped: {skipped}"
    )
    return 1 if invalid or skipped or not docs else 0


if __name__ == "__main__":
    sys.exit(main())

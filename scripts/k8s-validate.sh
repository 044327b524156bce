#!/usr/bin/env bash
# `make k8s-validate` (part of `make test`): offline checks of the Kubernetes manifests.
#   1. the files generated from gateway/kong (Ingresses, KongPlugins, proto bundle) are fresh;
#   2. each overlay renders with kustomize, and every object validates strictly against the
#      core Kubernetes schemas (kubernetes-validate, Kubernetes $K8S_VERSIONS) or the CRD
#      schemas in $K8S_CRD_SCHEMAS; an object without a schema fails (skipped must be 0);
#   3. the rendered objects agree with the protos, gateway/kong/kong.yml, contracts::topics
#      and the deployment rules (scripts/k8s/check.py);
#   4. the monitoring objects agree with each other and k8s/RUNBOOK.md
#      (scripts/k8s/check_monitoring.py), and promtool checks and unit-tests the alert rules
#      (scripts/promtool.sh);
#   5. tests/k8s: broken copies of the manifests are rejected.
# Tools are installed on first use into target/k8s-tools (scripts/k8s/tools.sh).
#
# Environment: K8S_CRD_SCHEMAS (default ../shared/k8s-schemas beside the repository),
# K8S_VERSIONS (default "1.30 1.37": the oldest Kubernetes these manifests support and the
# newest kubernetes-validate knows), K8S_OVERLAYS (default "dev prod"), K8S_SKIP_SELFTEST=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/k8s/tools.sh"
cd "$K8S_ROOT"

K8S_CRD_SCHEMAS="${K8S_CRD_SCHEMAS:-../shared/k8s-schemas}"
K8S_VERSIONS="${K8S_VERSIONS:-1.30 1.37}"
K8S_OVERLAYS="${K8S_OVERLAYS:-dev prod}"
export K8S_CRD_SCHEMAS K8S_VERSIONS

if [ ! -d "$K8S_CRD_SCHEMAS" ]; then
  echo "CRD schemas not found at $K8S_CRD_SCHEMAS (set K8S_CRD_SCHEMAS)" >&2
  exit 2
fi
version_args=()
for v in $K8S_VERSIONS; do version_args+=(--k8s-version "$v"); done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== k8s: generated files"
"$K8S_PY" scripts/k8s/generate.py --check

for overlay in $K8S_OVERLAYS; do
  echo "== k8s: overlay $overlay ($K8S_RENDER k8s/overlays/$overlay)"
  k8s_render "k8s/overlays/$overlay" >"$out/$overlay.yaml"
  "$K8S_PY" scripts/k8s/validate.py --crd-schemas "$K8S_CRD_SCHEMAS" "${version_args[@]}" \
    --label "k8s/overlays/$overlay" "$out/$overlay.yaml"
  "$K8S_PY" scripts/k8s/check.py --overlay "$overlay" "$out/$overlay.yaml"
  "$K8S_PY" scripts/k8s/check_monitoring.py "$out/$overlay.yaml"
done

# The alert rules through Prometheus's own tool: syntax, and a unit test per alert.
scripts/promtool.sh

if [ "${K8S_SKIP_SELFTEST:-0}" != 1 ]; then
  echo "== k8s: the validator rejects broken manifests"
  tests/k8s/broken_manifests_test.sh
fi

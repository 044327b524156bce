#!/usr/bin/env bash
# Regenerates the Kubernetes objects derived from gateway/kong (Ingresses, KongPlugins, the
# proto bundle ConfigMap and its Helm values). Run after `make kong-config`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
exec "$K8S_PY" "$K8S_ROOT/scripts/k8s/generate.py" "$@"

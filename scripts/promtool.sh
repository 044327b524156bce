#!/usr/bin/env bash
# Prometheus's own checks of k8s/base/monitoring (run by `make k8s-validate`, so by `make test`):
#   promtool check rules  on the rules of the PrometheusRule (rules.yaml's spec),
#   promtool test rules   on rules_test.yaml: every alert fires when it should, and only then.
# `scripts/promtool.sh check-metrics FILE...` lints scrapes (`promtool check metrics`).
#
# promtool comes from Prometheus's Go module (`go install`, the Go module proxy) at
# $PROMETHEUS_MODULE_VERSION into $PROMTOOL_BIN (default: `go env GOPATH`/bin, so one build
# serves every clone on the machine; the Rust scrape tests look there too). The first build
# takes several minutes; later ones come from Go's build cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/k8s/tools.sh"
cd "$K8S_ROOT"

PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
PROMTOOL_BIN="${PROMTOOL_BIN:-$(go env GOPATH)/bin}"
PROMTOOL="$PROMTOOL_BIN/promtool"

built_version() { go version -m "$PROMTOOL" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/prometheus/prometheus" {print $3}'; }
if [ ! -x "$PROMTOOL" ] || [ "$(built_version)" != "$PROMETHEUS_MODULE_VERSION" ]; then
  k8s_say "building promtool from github.com/prometheus/prometheus $PROMETHEUS_MODULE_VERSION (go install; minutes the first time)"
  GOBIN="$PROMTOOL_BIN" go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" >&2
fi

if [ "${1:-}" = check-metrics ]; then
  shift
  for f in "$@"; do "$PROMTOOL" check metrics <"$f"; done
  exit 0
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
# The operator's PrometheusRule wraps a plain rule file in `spec`.
"$K8S_PY" - k8s/base/monitoring/rules.yaml "$dir/rules.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["kind"] == "PrometheusRule", doc["kind"]
yaml.safe_dump(doc["spec"], open(sys.argv[2], "w"), sort_keys=False)
PY
cp k8s/base/monitoring/rules_test.yaml "$dir/"
echo "== promtool check rules (k8s/base/monitoring/rules.yaml)"
"$PROMTOOL" check rules "$dir/rules.yaml"
echo "== promtool test rules (k8s/base/monitoring/rules_test.yaml)"
(cd "$dir" && "$PROMTOOL" test rules rules_test.yaml)

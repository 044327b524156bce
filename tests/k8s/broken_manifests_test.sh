#!/usr/bin/env bash
# The Kubernetes checks must fail on broken manifests, not only pass on good ones. Each case
# copies k8s/ to a temporary folder, adds an overlay on top of the dev overlay that breaks
# one thing (a kustomize patch or an extra object), renders it and runs the same validator
# and consistency checks as scripts/k8s-validate.sh, expecting a failure that names the
# problem. The unbroken copy must pass. Run by scripts/k8s-validate.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "$ROOT/scripts/k8s/tools.sh"
cd "$ROOT"
K8S_CRD_SCHEMAS="${K8S_CRD_SCHEMAS:-../shared/k8s-schemas}"
K8S_VERSIONS="${K8S_VERSIONS:-1.30 1.37}"
version_args=()
for v in $K8S_VERSIONS; do version_args+=(--k8s-version "$v"); done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r k8s "$work/k8s"

passed=0
failed=0
n=0
case_dir=""

# new_case < patches/resources: an overlay on top of the copy's dev overlay.
new_case() {
  n=$((n + 1))
  case_dir="$work/k8s/overlays/case-$n"
  mkdir -p "$case_dir"
  {
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
    cat
  } >"$case_dir/kustomization.yaml"
}

# expect NAME (pass | fail TEXT): render the current case and run both checkers.
expect() {
  local name="$1" want="$2" text="${3:-}" rc=0 output
  output="$(
    {
      k8s_render "$case_dir" >"$case_dir/rendered.yaml"
      status=0
      "$K8S_PY" scripts/k8s/validate.py --crd-schemas "$K8S_CRD_SCHEMAS" "${version_args[@]}" \
        --label "case-$n" "$case_dir/rendered.yaml" || status=1
      "$K8S_PY" scripts/k8s/check.py --overlay dev --root "$ROOT" "$case_dir/rendered.yaml" || status=1
      exit $status
    } 2>&1
  )" || rc=$?
  if [ "$want" = pass ] && [ "$rc" = 0 ]; then
    passed=$((passed + 1)); echo "ok   $name"
  elif [ "$want" = fail ] && [ "$rc" != 0 ] && grep -qF -- "$text" <<<"$output"; then
    passed=$((passed + 1))
    echo "ok   $name: $(grep -F -m1 -- "$text" <<<"$output" | sed "s|$case_dir/rendered.yaml: ||" | cut -c1-170)"
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc, expected $([ "$want" = pass ] && echo success || echo "a failure mentioning: $text")"
    sed 's/^/     /' <<<"$output" | tail -15
  fi
}

new_case <<'YAML'
resources:
  - ../dev
YAML
expect "the unbroken copy passes" pass

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Deployment, name: auth-service}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolice
        value: Always
YAML
expect "unknown container field in a Deployment (core schema)" fail "'imagePullPolice' was unexpected"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: HorizontalPodAutoscaler, name: ds-service}
    patch: |-
      - op: replace
        path: /spec/minReplicas
        value: one
YAML
expect "wrong type in an HPA (core schema)" fail "spec.minReplicas: 'one' is not of type"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: KafkaTopic, name: ds.expense-extracted.v1}
    patch: |-
      - op: add
        path: /spec/partition
        value: 6
YAML
expect "unknown field in a KafkaTopic spec (CRD schema)" fail "'partition' was unexpected"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Kafka}
    patch: |-
      - op: add
        path: /specs
        value: {}
YAML
expect "unknown top-level field in a Kafka (CRD schema, strict at the root)" fail "'specs' was unexpected"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Cluster, name: expense-db}
    patch: |-
      - op: add
        path: /metadata/labelz
        value: {a: b}
YAML
expect "unknown metadata field in a CloudNativePG Cluster (ObjectMeta)" fail "'labelz' was unexpected"

new_case <<'YAML'
resources:
  - ../dev
  - widget.yaml
YAML
cat >"$case_dir/widget.yaml" <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata:
  name: no-schema-anywhere
spec: {}
YAML
expect "an object without a schema fails instead of being skipped" fail "SKIPPED"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Ingress, name: expense-get-expense}
    patch: |-
      - op: replace
        path: /metadata/annotations/konghq.com~1methods
        value: POST,OPTIONS
YAML
expect "an Ingress whose methods disagree with kong.yml and the protos" fail "matches no route of kong.yml"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Ingress, name: user-get-me}
    patch: |-
      - op: replace
        path: /metadata/annotations/konghq.com~1plugins
        value: correlation-id,cors,post-function,prometheus,rate-limiting,request-size-limiting-65536
YAML
expect "a protected route without the jwt plugin" fail "missing ['jwt']"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: KongPlugin, name: rate-limiting}
    patch: |-
      - op: replace
        path: /config/second
        value: 1000
YAML
expect "a KongPlugin config that differs from kong.yml" fail "plugins differ from kong.yml"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - patch: |-
      $patch: delete
      apiVersion: kafka.strimzi.io/v1
      kind: KafkaTopic
      metadata:
        name: user.user-deleted.v1.dlq
        namespace: expense-tracker
YAML
expect "a dead-letter topic without its KafkaTopic" fail "no KafkaTopic for user.user-deleted.v1.dlq"

new_case <<'YAML'
resources:
  - ../dev
patches:
  - target: {kind: Deployment, name: expense-service}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem
        value: false
YAML
expect "a writable root filesystem" fail "readOnlyRootFilesystem must be true"

echo "k8s manifest checks: $passed passed, $failed failed"
[ "$failed" = 0 ]

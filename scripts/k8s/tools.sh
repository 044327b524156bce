# Sourced by scripts/k8s-validate.sh and scripts/k8s/generate.sh: makes sure the tools the
# Kubernetes checks need are present, installing them into a git-ignored folder when missing.
#   K8S_PY        python with kubernetes-validate (a venv under $K8S_TOOLS_DIR)
#   k8s_render D  prints the objects of kustomization D (kubectl kustomize, or kustomize)
# K8S_TOOLS_DIR (default target/k8s-tools) holds the venv and, when kubectl is missing, a
# kustomize built with `go install`.
set -euo pipefail

K8S_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
K8S_TOOLS_DIR="${K8S_TOOLS_DIR:-$K8S_ROOT/target/k8s-tools}"
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"

k8s_say() { printf '\033[1m[k8s]\033[0m %s\n' "$*" >&2; }

k8s_python() {
  local venv="$K8S_TOOLS_DIR/venv" req="$K8S_ROOT/scripts/k8s/requirements.txt"
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp" 2>/dev/null \
     || ! "$venv/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
    k8s_say "installing kubernetes-validate into $venv (PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    cp "$req" "$stamp"
  fi
  K8S_PY="$venv/bin/python"
}

k8s_renderer() {
  if [ -n "${K8S_RENDER:-}" ]; then return; fi
  if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    K8S_RENDER="kubectl kustomize"
  elif command -v kustomize >/dev/null 2>&1; then
    K8S_RENDER="kustomize build"
  else
    if [ ! -x "$K8S_TOOLS_DIR/bin/kustomize" ]; then
      command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
      k8s_say "kubectl not found: building kustomize $KUSTOMIZE_VERSION with go install (Go module proxy)"
      GOBIN="$K8S_TOOLS_DIR/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
    fi
    K8S_RENDER="$K8S_TOOLS_DIR/bin/kustomize build"
  fi
}

k8s_render() { $K8S_RENDER "$1"; }

k8s_python
k8s_renderer

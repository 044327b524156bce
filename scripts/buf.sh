#!/usr/bin/env bash
# Contract checks with buf (part of `make lint`):
#   scripts/buf.sh                    buf lint + buf breaking against proto/baseline/v1.binpb
#   scripts/buf.sh --selftest         shows that renumbering a field is refused
#   scripts/buf.sh --update-baseline  rewrites the baseline (only when a v2 starts, never
#                                     to make a breaking v1 change pass)
# buf is a Go module: installed with `go install` into target/go-tools on first use
# (BUF_VERSION), or taken from BUF when set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUF_VERSION="${BUF_VERSION:-v1.75.0}"
TOOLS="$ROOT/target/go-tools"
BASELINE=proto/baseline/v1.binpb

buf_bin() {
  if [ -n "${BUF:-}" ]; then echo "$BUF"; return; fi
  if [ ! -x "$TOOLS/buf" ] || ! "$TOOLS/buf" --version 2>/dev/null | grep -qx "${BUF_VERSION#v}"; then
    command -v go >/dev/null || { echo "buf.sh: needs Go to install buf (go install)" >&2; exit 2; }
    echo "[buf] installing github.com/bufbuild/buf/cmd/buf@$BUF_VERSION into $TOOLS" >&2
    mkdir -p "$TOOLS"
    GOBIN="$TOOLS" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  fi
  echo "$TOOLS/buf"
}
BUF_CMD="$(buf_bin)"
case "$BUF_CMD" in */*) BUF_CMD="$(cd "$(dirname "$BUF_CMD")" && pwd)/$(basename "$BUF_CMD")" ;; esac

case "${1:-}" in
  --update-baseline)
    mkdir -p "$(dirname "$BASELINE")"
    "$BUF_CMD" build --exclude-source-info -o "$BASELINE"
    echo "wrote $BASELINE"
    ;;
  --selftest)
    # A copy of the repository's protos with one field renumbered must fail `buf breaking`.
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    cp -r buf.yaml proto "$tmp/"
    sed -i 's/^\(  string merchant = \)[0-9]*;/\1 99;/' "$tmp/proto/expense_tracker/expense/v1/expense.proto"
    if cmp -s proto/expense_tracker/expense/v1/expense.proto "$tmp/proto/expense_tracker/expense/v1/expense.proto"; then
      echo "buf.sh --selftest: found no field to renumber (expense.proto's merchant)" >&2
      exit 1
    fi
    if out="$(cd "$tmp" && "$BUF_CMD" breaking --against "$ROOT/$BASELINE" 2>&1)"; then
      echo "buf.sh --selftest: a renumbered field passed buf breaking" >&2
      exit 1
    fi
    echo "$out" | grep -q 'merchant' || { echo "unexpected buf breaking output: $out" >&2; exit 1; }
    echo "== buf: a renumbered field is refused:"
    echo "$out" | sed 's/^/   /'
    ;;
  "")
    echo "== buf lint"
    "$BUF_CMD" lint
    echo "== buf breaking against $BASELINE"
    "$BUF_CMD" breaking --against "$BASELINE"
    ;;
  *)
    echo "usage: scripts/buf.sh [--selftest|--update-baseline]" >&2
    exit 2
    ;;
esac

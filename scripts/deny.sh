#!/usr/bin/env bash
# cargo-deny over the whole workspace, for `make lint` (config: deny.toml).
#
# - installs cargo-deny with `cargo install --locked` when it is missing (once, a few minutes);
# - always checks licenses, bans and sources (offline: Cargo.lock and the crates' manifests);
# - checks advisories when the RustSec database can be had: it is a git repository on
#   GitHub, fetched into ~/.cargo/advisory-dbs. Where GitHub cannot be reached and no copy
#   was fetched before, this says so plainly and skips that one check; with an older copy
#   it checks against that copy and says how old it is.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version >/dev/null 2>&1; then
    echo "== installing cargo-deny $CARGO_DENY_VERSION (cargo install --locked; once)"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
fi

cargo deny --workspace check --hide-inclusion-graph licenses bans sources

db_dir="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --workspace --offline check --hide-inclusion-graph advisories
elif db=$(ls -d "$db_dir"/advisory-db-*/crates 2>/dev/null | head -n1) && [ -n "$db" ]; then
    age=$(( ($(date +%s) - $(stat -c %Y "$db")) / 86400 ))
    echo "!! the RustSec advisory database could not be fetched; checking against the copy" \
        "fetched $age day(s) ago"
    cargo deny --workspace --offline check --hide-inclusion-graph advisories
else
    echo "!! advisories NOT checked: the RustSec advisory database (a git clone from GitHub)" \
        "cannot be fetched from here and no earlier copy exists. Licenses, bans and sources" \
        "were checked."
fi

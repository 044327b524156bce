#!/usr/bin/env bash
# Offline check of gateway/kong/kong.yml with decK (Debian's `deck` package, installed
# when missing): structure, unknown properties and relationships. Plugin fields are not
# checked by decK; the edge's tests cover what the file says.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v deck >/dev/null 2>&1; then
  echo "== installing deck (Debian package)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq deck >/dev/null
fi
deck validate -s "$here/kong.yml"
echo "kong.yml is valid (deck $(deck version 2>/dev/null | awk '{print $2}'))"

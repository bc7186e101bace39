#!/usr/bin/env bash
# Install the system packages a make target needs, if missing and permitted.
# Usage: scripts/sysdeps.sh qt|xvfb|test ...   (any combination, one apt run)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

want=()
for set in "$@"; do
  case "$set" in
    qt) want+=("${QT_PACKAGES[@]}") ;;
    xvfb) want+=("${XVFB_PACKAGES[@]}") ;;
    test) want+=("${TEST_PACKAGES[@]}") ;;
    *) die "unknown package set '$set' (expected qt, xvfb or test)" ;;
  esac
done
ensure_packages "${want[@]}"

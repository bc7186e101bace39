#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install the package editable with its extras.
# Usage: scripts/venv.sh STAMP_FILE [EXTRAS]   (make calls it when pyproject.toml changed)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

stamp=${1:?usage: scripts/venv.sh STAMP_FILE [EXTRAS]}
extras=${2:-dev}
venv=.venv

is_new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && is_new_enough "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# Reuse a working venv; rebuild one whose interpreter is gone or too old.
if [ -x "$venv/bin/python" ] && ! is_new_enough "$venv/bin/python"; then
  say "$venv is broken or older than Python 3.11: recreating it"
  rm -rf "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! python=$(find_python); then
    # Debian 12's python3 is 3.11; fresh images may not have it at all.
    ensure_packages python3 python3-venv
    python=$(find_python) || die "no Python >= 3.11 found; install one, or set PYTHON=/path/to/python3.11"
  fi
  # Debian splits ensurepip out of the standard library into pythonX.Y-venv.
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    ensure_packages "python${version}-venv"
  fi
  say "creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi

say "installing prompt-workbench[$extras] into $venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -e ".[$extras]"
# keyrings.alt must never be present: keyring would silently fall back to plaintext.
if "$venv/bin/python" -m pip show -q keyrings.alt >/dev/null 2>&1; then
  die "keyrings.alt is installed in $venv: remove it ($venv/bin/pip uninstall keyrings.alt); it stores keys in plaintext"
fi
touch "$stamp"

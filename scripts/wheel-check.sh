#!/usr/bin/env bash
# Build the wheel from a clean copy of the source and prove it works installed: in a
# venv of its own (no system site-packages, not the checkout's .venv), outside the
# checkout, the package finds its stylesheet and sample bundle, the app is styled,
# `workbench --help` runs and the sample bundle imports into a new vault.
#
# The venv is cached, keyed by the wheel's dependency list: a new list (or Python)
# gets a venv built from nothing, with the wheel's own dependencies from the package
# index; otherwise the cached one gets the new wheel and `pip check` proves the
# dependencies are still met. Usage: scripts/wheel-check.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

python=${1:-.venv/bin/python}
base=$("$python" -c 'import sys; print(sys._base_executable)')
cache="${XDG_CACHE_HOME:-$HOME/.cache}/prompt-workbench/wheel-check"
work=$(mktemp -d "${TMPDIR:-/tmp}/wb-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A copy of what git tracks or would track (untracked but not ignored): no build/,
# no .venv, no egg-info in the wheel by accident.
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ ! -f "$f" ] || printf '%s\0' "$f"; done \
  | xargs -0 -r cp --parents -t "$work/src"
say "building the wheel"
"$python" -m pip wheel --disable-pip-version-check -q --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/prompt_workbench-*.whl)

key=$("$python" - "$wheel" "$base" <<'PY'
import hashlib, sys, zipfile
wheel, base = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    reqs = sorted(
        line for line in z.read(meta).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
print(hashlib.sha256("\n".join([base, *reqs]).encode()).hexdigest()[:16])
PY
)
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/python" ]; then
  say "a clean venv for this dependency list ($key): installing the wheel with its dependencies"
  rm -rf "$venv.tmp" && mkdir -p "$cache"
  "$base" -m venv "$venv.tmp"
  "$venv.tmp/bin/python" -m pip install --disable-pip-version-check -q "$wheel"
  rm -rf "$venv" && mv "$venv.tmp" "$venv"
  # venv scripts name their interpreter by path: re-point them after the move.
  sed -i "1s|^#!.*/venv-$key.tmp/bin/python|#!$venv/bin/python|" "$venv"/bin/*
else
  say "reusing the clean venv for this dependency list ($key)"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q --force-reinstall --no-deps "$wheel"
fi
"$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null \
  || die "the wheel's dependencies are not met in a venv holding only them (pip check)"

say "checking the installed wheel"
mkdir -p "$work/run"
cd "$work/run"  # not the checkout: nothing can come from the source tree
export QT_QPA_PLATFORM=offscreen WORKBENCH_DATA_DIR="$work/run/data" PYTHONNOUSERSITE=1 \
  HOME="$work/run/home" XDG_CONFIG_HOME="$work/run/config"
unset PYTHONPATH
"$venv/bin/python" - "$venv" <<'PY'
import json, sys
from pathlib import Path

venv = Path(sys.argv[1]).resolve()
import workbench
from workbench.assets import resource, resources_dir

package = Path(workbench.__file__).resolve().parent
assert venv in package.parents, f"workbench imported from {package}, not the venv {venv}"
assert resources_dir() == package / "resources", resources_dir()
qss = resource("workbench.qss").read_text("utf-8")
bundle = json.loads(resource("sample-bundle.json").read_text("utf-8"))
assert "QWidget" in qss or "{" in qss, "the stylesheet is empty"
assert bundle, "the sample bundle is empty"
assert resource("prompt-workbench.svg").is_file()

from PySide6.QtWidgets import QApplication
from workbench.ui.theme import apply_theme
from workbench.ui.window_transfer import SAMPLE_BUNDLE

app = QApplication([])
apply_theme(app, "light")
assert app.styleSheet().strip(), "the app would run unstyled"
assert SAMPLE_BUNDLE == resource("sample-bundle.json") and SAMPLE_BUNDLE.is_file()
print(f"resources: {resources_dir()}")
PY
"$venv/bin/workbench" --help >/dev/null
"$venv/bin/workbench" vault init --vault "$work/run/vault.sqlite3" >/dev/null
"$venv/bin/workbench" vault import --vault "$work/run/vault.sqlite3" \
  "$("$venv/bin/python" -c 'from workbench.assets import resource; print(resource("sample-bundle.json"))')" \
  >/dev/null
listed=$("$venv/bin/workbench" vault list --vault "$work/run/vault.sqlite3" --json)
"$venv/bin/python" -c 'import json, sys; rows = json.loads(sys.argv[1]); assert rows, "no prompt imported"; print(f"imported {len(rows)} sample prompts")' "$listed"
say "the installed wheel works: styled, with its samples"

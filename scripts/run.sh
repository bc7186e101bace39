#!/usr/bin/env bash
# Launch the desktop app from .venv, or say plainly why it cannot start here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Without a display Qt dies with a confusing "could not load the Qt platform plugin
# xcb" error. Say what is really wrong instead. (QT_QPA_PLATFORM set on purpose,
# e.g. offscreen, means the person knows what they are doing.)
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  # Install Xvfb when we may, so the first suggestion below just works.
  xvfb_note=""
  if command -v dpkg-query >/dev/null 2>&1 && [ -n "$(missing_packages "${XVFB_PACKAGES[@]}")" ]; then
    if [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
      ensure_packages "${XVFB_PACKAGES[@]}"
    else
      xvfb_note="     (first: sudo apt-get install -y --no-install-recommends ${XVFB_PACKAGES[*]})"
    fi
  fi
  cat >&2 <<MSG

There is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the
Prompt Workbench window cannot open. To go on:

  - run the window on a virtual X server:
      xvfb-run -a make run
${xvfb_note:+$xvfb_note
}
  - or use the command line, which needs no display:
      .venv/bin/workbench --help
      .venv/bin/workbench vault list

MSG
  exit 3
fi

exec .venv/bin/workbench "$@"

# shellcheck shell=bash
# Shared helpers for the make targets. Sourced, never run.
#
# The one rule here: system packages are installed only when they are missing and
# only when we may (root, or sudo without a password prompt). Otherwise we print
# the exact command a person can run and stop, so nothing hangs on a prompt in CI.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Qt 6 (PySide6-Essentials) on xcb/offscreen; the list measured in RECIPES.md.
QT_PACKAGES=(
  libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3
  libx11-6 libxcb1 fonts-dejavu-core libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
  libxcb-util1
)
# A virtual X server, for `xvfb-run -a make run` on a machine without a display.
XVFB_PACKAGES=(xvfb xauth)
# What the test suite starts for real: a D-Bus session with a Secret Service (gdbus,
# from libglib2.0-bin, waits for it to be served), and a PostgreSQL server.
# (Never keyrings.alt: it would make keyring write plaintext.)
TEST_PACKAGES=(dbus gnome-keyring libglib2.0-bin postgresql)

# Print the packages (of those given) that dpkg does not report as installed.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" != "ii " ]; then
      printf '%s\n' "$pkg"
    fi
  done
}

# ensure_packages PKG...: install the missing ones, or explain how and fail.
ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    say "not a Debian-like system: make sure these (or your system's equivalents) are installed: $*"
    return 0
  fi
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0

  local -a sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      printf '\nThese system packages are missing: %s\n' "${missing[*]}" >&2
      printf 'Installing them needs root. Run this, then run make again:\n\n' >&2
      printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n\n' \
        "${missing[*]}" >&2
      exit 1
    fi
  fi
  say "installing system packages: ${missing[*]}"
  local -a apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q
    -o DPkg::Lock::Timeout=600)
  # One `apt-get update` per make run is enough: the lists do not change under us.
  if [ -z "${WB_APT_UPDATED:-}" ]; then
    "${apt[@]}" update -qq || die "apt-get update failed (see above)"
    export WB_APT_UPDATED=1
  fi
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed (see above)"
}

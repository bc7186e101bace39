#!/usr/bin/env bash
# Run a command inside a private, throw-away desktop session for tests:
#   - HOME and XDG_* point into a temp dir, so nothing reads or writes the real
#     user's files or keychain;
#   - a private D-Bus session bus (dbus-run-session) with gnome-keyring's Secret
#     Service started and its `login` collection unlocked.
# The keyring daemon exits with the bus; the temp dir is removed on exit.
# Usage: scripts/test-session.sh COMMAND [ARGS...]
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
for tool in dbus-run-session gnome-keyring-daemon gdbus; do
  command -v "$tool" >/dev/null 2>&1 \
    || { echo "error: $tool is missing; run 'make test', which installs it" >&2; exit 1; }
done

session=$(mktemp -d "${TMPDIR:-/tmp}/wb-test-session.XXXXXX")
trap 'rm -rf "$session"' EXIT
mkdir -p "$session"/{home,data,config,cache,runtime}
chmod 700 "$session/runtime"
export HOME="$session/home" XDG_DATA_HOME="$session/data" XDG_CONFIG_HOME="$session/config" \
  XDG_CACHE_HOME="$session/cache" XDG_RUNTIME_DIR="$session/runtime"
# A throw-away password for a throw-away keyring; it guards nothing real.
export WB_TEST_KEYRING_PASSWORD="wb-test-$$-$RANDOM"

# The launcher returns before the daemon owns its bus name; `gdbus wait` blocks
# until it does, so the command never races the daemon (and a daemon that is on
# the bus exits with it). Not exec: the trap must run to remove the temp dir.
dbus-run-session -- bash -c '
  printf %s "$WB_TEST_KEYRING_PASSWORD" \
    | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
    && gdbus wait --session --timeout 30 org.freedesktop.secrets \
    || { echo "error: gnome-keyring-daemon did not start" >&2; exit 1; }
  unset WB_TEST_KEYRING_PASSWORD
  exec "$@"' test-session "$@"

#!/bin/sh
# What the browser tests (tests/browser/) and the HSM tests need on a fresh Debian machine:
# Debian's chromium, a Japanese font, SoftHSM and axe-core (npm, MPL-2.0, into .cache/ which git
# ignores). Installs only what is missing; exits non-zero with a message saying what could not
# be installed. Run as root (or with sudo) for the Debian packages.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
AXE_DIR="$ROOT/.cache/axe"

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -e /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || missing="$missing fonts-ipafont-gothic"
command -v softhsm2-util >/dev/null 2>&1 || missing="$missing softhsm2"

if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: cannot install$missing: apt-get not found (install them by hand)" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "install-test-deps: installing$missing needs root (run this script as root)" >&2
            exit 1
        fi
    fi
    echo "install-test-deps: installing$missing" >&2
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
fi

if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-test-deps: cannot install axe-core: npm not found (apt-get install npm)" >&2
        exit 1
    fi
    echo "install-test-deps: installing axe-core into $AXE_DIR" >&2
    mkdir -p "$AXE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" axe-core >&2
fi
echo "install-test-deps: chromium, fonts-ipafont-gothic, softhsm2 and axe-core are installed" >&2

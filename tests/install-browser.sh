#!/usr/bin/env bash
# The browser the widget and console tests drive: Debian's Chromium (Playwright, installed by
# pip with the test extras, drives it; it never downloads a browser of its own here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing Debian's chromium for the browser tests…" >&2
sudo_if_needed apt-get install -y -q chromium >/dev/null \
    || { sudo_if_needed apt-get update -q >/dev/null && sudo_if_needed apt-get install -y -q chromium >/dev/null; }
/usr/bin/chromium --version >&2

#!/usr/bin/env bash
# Make sure a headless Chromium exists for the Allure report screenshot test (tests/report/test_allure.py).
# Looks for chromium / chromium-browser / google-chrome on PATH; when none is found and we may use apt,
# installs Debian's package chromium; otherwise says how to get it. A missing browser only skips that test.
set -u
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found: installing Debian package chromium (for the report screenshot test)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || {
    echo "could not install chromium with apt-get" >&2; exit 3; }
  exit 0
fi
echo "Chromium not found: install it (Debian/Ubuntu: 'apt-get install chromium', macOS: 'brew install --cask" \
     "chromium') or put it on PATH; the report screenshot test is skipped without it" >&2
exit 0

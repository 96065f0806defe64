#!/bin/sh
# The headless browser of the GraphiQL test (tests/e2e/test_graphiql_browser.py): Debian's chromium and
# chromium-driver, installed with apt-get when missing and when this runs as root (as CI does). Elsewhere it
# only says what to install; the test then skips, except in CI (CI=true), where it fails.
set -eu
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (apt-get) for the GraphiQL browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "note: the GraphiQL browser test needs chromium and chromedriver" \
     "(Debian/Ubuntu: sudo apt-get install chromium chromium-driver); it is skipped without them" >&2

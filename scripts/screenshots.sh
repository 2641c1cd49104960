#!/usr/bin/env bash
# Take the README's screenshots again: every browser test (the `browser`
# test target of each crate) runs with SCREENSHOTS_DIR set, and saves the
# page it has just checked at the moment worth showing (see
# service_kit::testing::Browser::screenshot). A picture is only ever taken
# of a page whose test passed.
#
#   scripts/screenshots.sh            # into docs/screenshots/
#   SCREENSHOTS_DIR=/tmp/shots scripts/screenshots.sh
#
# Needs what the browser tests need (Chromium, chromedriver, the databases:
# see the README's prerequisites).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SCREENSHOTS_DIR:-docs/screenshots}
mkdir -p "$out"
out=$(cd "$out" && pwd) # the tests run in their crate's directory
SCREENSHOTS_DIR=$out cargo test --workspace --locked --test browser
echo "==> screenshots in $out:"
ls -l "$out"

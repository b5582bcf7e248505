#!/usr/bin/env bash
# Refresh the README's screenshots (docs/screenshots/): the browser tests, told to keep their
# screenshots there. The test suite itself writes them to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
DIGITSUM_SCREENSHOTS="$PWD/docs/screenshots" ./run test tests/test_browser.py -q

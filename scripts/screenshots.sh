#!/usr/bin/env bash
# Refreshes docs/screenshots/ from the end-to-end tests' screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test.sh e2e
node --test tests/ui/ >/dev/null
mkdir -p docs/screenshots
cp tests/results/accounts/needs-sign-in.png docs/screenshots/accounts.png
cp tests/results/signin/waiting-for-browser.png docs/screenshots/waiting-for-browser.png
cp tests/results/signin/picker.png docs/screenshots/provider-picker.png
cp tests/results/refresh/offline.png docs/screenshots/offline.png
cp tests/results/config-entries/provider-errors.png docs/screenshots/provider-errors.png
cp tests/results/ui/about.png docs/screenshots/about.png
cp tests/results/ui-dark/dark.png docs/screenshots/dark.png
cp tests/results/ui-no-keychain/keychain-unavailable.png docs/screenshots/keychain-unavailable.png
cp tests/results/ui-fake/accounts.png docs/screenshots/all-states.png
cp tests/results/add-provider/add-provider.png docs/screenshots/add-provider.png
echo "docs/screenshots refreshed"

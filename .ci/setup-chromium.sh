#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium` package) for tests/service/test_docs_offline.py, which
# renders the docs page with every host but the API's unreachable. Idempotent, quiet on success.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
chromium --version >/dev/null 2>&1

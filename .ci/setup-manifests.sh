#!/usr/bin/env bash
# What tests/manifests and tests/e2e need beyond the venv: kubectl and helm (.ci/setup-tools.sh),
# promtool (Debian's prometheus package) for the PrometheusRule check. The local e2e target's
# podman, image and MariaDB come from .ci/setup-podman.sh and the MariaDB set-up of .ci/run.
# Idempotent, quiet on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
bash "$REPO/.ci/setup-tools.sh"
if ! command -v promtool >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
# The kubernetes client (tests/e2e) is pinned in requirements-dev.txt.
"$REPO/.venv/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements-dev.txt" 2>/dev/null \
  || make -s -C "$REPO" venv >/dev/null

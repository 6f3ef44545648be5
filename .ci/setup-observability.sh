#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) for tests/observability.
# The tests start their own Prometheus on free loopback ports with a temporary config and
# storage, so a running packaged service does not get in the way. Idempotent, quiet on success.
set -euo pipefail
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
prometheus --version >/dev/null 2>&1
promtool --version >/dev/null 2>&1

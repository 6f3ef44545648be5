#!/usr/bin/env bash
# Makes podman usable on this machine (no Docker, no registry): containers.conf with runc and
# explicit ulimits, and a stand-in base image `localhost/pybase:bookworm` made with debootstrap
# (Debian's python3 + venv + pip) since no base image can be pulled. Idempotent, quiet on success.
set -euo pipefail
BASE=${BASE_IMAGE_LOCAL:-localhost/pybase:bookworm}

need=()
for cmd in podman runc debootstrap; do command -v "$cmd" >/dev/null || need+=("$cmd"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

# Without this, crun fails here on setrlimit(RLIMIT_NOFILE) and hybrid cgroups.
if ! grep -qs 'runtime = "runc"' /etc/containers/containers.conf; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
fi

if ! podman image exists "$BASE"; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,netbase \
    bookworm "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info}/*
  tar -C "$root" -c . | podman import --quiet --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null
fi

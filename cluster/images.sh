#!/usr/bin/env bash
# Builds the cluster's images with podman from the binaries of build.sh and debootstrap
# bases, and pushes them to the local registry, where the kubelet pulls them like any image.
# An image whose tag the registry already has is not rebuilt, unless this recipe changed.
. "$(dirname "$0")/lib.sh"

recipe=$(cat "$CLUSTER_DIR/images.sh" "$CLUSTER_DIR"/images/* | sha256sum | cut -d' ' -f1)
built_recipe=$(cat "$CLUSTER_CACHE/images.recipe" 2>/dev/null || true)

in_registry() { # NAME TAG
  [ "$recipe" = "$built_recipe" ] || return 1
  curl -fs -o /dev/null -I "http://$REGISTRY/v2/$1/manifests/$2" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'
}

push() { podman push -q --tls-verify=false "$REGISTRY/$1:$2" >/dev/null; }

# debootstrap_base IMAGE PACKAGES: a minimal Debian 12 as a local podman image.
debootstrap_base() {
  local image=$1 packages=$2 root mirror
  podman image exists "$image" && return 0
  log "debootstrap $image ($packages)"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  root=$(mktemp -d)
  debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >/dev/null
  [ -n "${3:-}" ] && chroot "$root" /bin/sh -c "$3"
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info}/*
  tar -C "$root" -c . | podman import -q --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
  rm -rf "$root"
}

# image NAME TAG FROM FILE PATH [USER]: FILE at PATH in FROM, as the entrypoint. PATH is
# where the upstream image has it: manifests and operators name some of them.
image() {
  local name=$1 tag=$2 from=$3 file=$4 path=$5 user=${6:-65532:65532} ctx
  in_registry "$name" "$tag" && return 0
  log "image $REGISTRY/$name:$tag"
  ctx=$(mktemp -d)
  cp "$file" "$ctx/"
  printf 'FROM %s\nCOPY %s %s\nUSER %s\nENTRYPOINT ["%s"]\n' \
    "$from" "$(basename "$file")" "$path" "$user" "$path" >"$ctx/Containerfile"
  podman build -q --network none -t "$REGISTRY/$name:$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  push "$name" "$tag"
}

k8s=$(bin_dir kubernetes "$KUBERNETES_VERSION")
operator=$(bin_dir prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")

# A tools base (iptables and ipset for the policy agent, a shell for local-path's helper
# pods) and a MariaDB base whose mysql user has the official
# image's uid, 999.
[ "$recipe" = "$built_recipe" ] || podman rmi -i "$TOOLS_BASE" "$MARIADB_BASE" >/dev/null
debootstrap_base "$TOOLS_BASE" iptables,ipset,conntrack,iproute2,ca-certificates
debootstrap_base "$MARIADB_BASE" mariadb-server,mariadb-client \
  'usermod -u 999 mysql && groupmod -g 999 mysql && rm -rf /var/lib/mysql/* && install -d -o 999 -g 999 /run/mysqld /var/lib/mysql'

image pause "$KUBERNETES_VERSION" scratch "$k8s/pause" /pause 65535:65535
image coredns "$COREDNS_VERSION" scratch "$(bin_dir coredns "$COREDNS_VERSION")/coredns" /coredns
image kube-router "$KUBE_ROUTER_VERSION" "$TOOLS_BASE" \
  "$(bin_dir kube-router "$KUBE_ROUTER_VERSION")/kube-router" /usr/local/bin/kube-router 0:0
image traefik "$TRAEFIK_VERSION" scratch "$(bin_dir traefik "$TRAEFIK_VERSION")/traefik" /usr/local/bin/traefik
image local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" scratch \
  "$(bin_dir local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION")/local-path-provisioner" \
  /usr/bin/local-path-provisioner
image prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" scratch "$operator/operator" /bin/operator
image prometheus-config-reloader "$PROMETHEUS_OPERATOR_VERSION" scratch \
  "$operator/prometheus-config-reloader" /bin/prometheus-config-reloader
image kube-state-metrics "$KUBE_STATE_METRICS_VERSION" scratch \
  "$(bin_dir kube-state-metrics "$KUBE_STATE_METRICS_VERSION")/kube-state-metrics" /kube-state-metrics
image prometheus "$PROMETHEUS_VERSION" scratch "$(bin_dir prometheus "$PROMETHEUS_VERSION")/prometheus" /bin/prometheus

if ! in_registry tools bookworm; then
  podman tag "$TOOLS_BASE" "$REGISTRY/tools:bookworm" && push tools bookworm
fi
if ! in_registry mariadb "$MARIADB_IMAGE_TAG"; then
  log "image $REGISTRY/mariadb:$MARIADB_IMAGE_TAG"
  podman build -q --network none --build-arg BASE="$MARIADB_BASE" -f "$CLUSTER_DIR/images/mariadb.Containerfile" \
    -t "$REGISTRY/mariadb:$MARIADB_IMAGE_TAG" "$CLUSTER_DIR/images" >/dev/null
  push mariadb "$MARIADB_IMAGE_TAG"
fi
echo "$recipe" >"$CLUSTER_CACHE/images.recipe"

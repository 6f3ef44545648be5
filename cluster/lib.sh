# Shared by the cluster/ scripts: versions, where things live, small helpers.
# shellcheck disable=SC2034
set -euo pipefail
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

# Built binaries, one folder per component and version (kept across cluster-down).
CLUSTER_CACHE=${CLUSTER_CACHE:-/var/cache/fastapi-example-cluster}
# Everything a running cluster writes: certificates, etcd data, logs, containerd's state.
CLUSTER_STATE=${CLUSTER_STATE:-/var/lib/fastapi-example-cluster}
CLUSTER_LOGS=$CLUSTER_STATE/logs
KUBECONFIG_ADMIN=$CLUSTER_STATE/admin.kubeconfig
# Where host processes keep their pid files and sockets (not always gone at reboot: a pid
# file is believed only while its process runs the program it names, see alive).
CLUSTER_RUN=/run/fastapi-example-cluster

# The local registry (CNCF distribution) on loopback; pods pull from it by this name.
REGISTRY=localhost:5000
TOOLS_BASE=localhost/cluster-tools:bookworm
MARIADB_BASE=localhost/cluster-mariadb:bookworm

export GOFLAGS=-buildvcs=false CGO_ENABLED=${CGO_ENABLED:-0}

# The node's network: its address (the source of the default route), the pod and Service
# ranges, the bridge pods hang off, and the DNS Service's fixed address.
NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
NODE_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
CLUSTER_DNS_IP=10.96.0.10
CNI_BRIDGE=fe-cni0
K8S_BIN=$CLUSTER_CACHE/kubernetes-$KUBERNETES_VERSION

log() { printf '== %s\n' "$*" >&2; }

# alive NAME: the pid of the process started under NAME, if it still runs that program (after
# a restart a stale pid file may name a process that reuses the number).
alive() {
  local pid exe
  pid=$(cat "$CLUSTER_RUN/$1.pid" 2>/dev/null) || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  [ "${exe##*/}" = "$1" ] && echo "$pid"
}

# bin_dir COMPONENT VERSION: the cache folder of one build.
bin_dir() { printf '%s/%s-%s' "$CLUSTER_CACHE" "$1" "$2"; }

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "timed out after ${seconds}s waiting for $what" >&2
  return 1
}

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# render FILE: FILE with the ${VARIABLES} of this file and versions.env filled in (others,
# such as a shell script's $VOL_DIR inside a manifest, are left as they are).
render() {
  local vars
  vars=$(sed -n 's/^\([A-Z_]*\)=.*/${\1}/p' "$CLUSTER_DIR/versions.env" | tr '\n' ' ')
  vars+=' ${CLUSTER_CACHE} ${CLUSTER_STATE} ${CLUSTER_RUN} ${REGISTRY} ${NODE_NAME} ${NODE_IP}'
  vars+=' ${POD_CIDR} ${NODE_POD_CIDR} ${SERVICE_CIDR} ${CLUSTER_DNS_IP} ${CNI_BRIDGE}'
  # shellcheck disable=SC2046
  export $(sed -n 's/^\([A-Z_]*\)=.*/\1/p' "$CLUSTER_DIR/versions.env") CLUSTER_CACHE CLUSTER_STATE \
    CLUSTER_RUN REGISTRY NODE_NAME NODE_IP POD_CIDR NODE_POD_CIDR SERVICE_CIDR CLUSTER_DNS_IP CNI_BRIDGE
  envsubst "$vars" <"$1"
}

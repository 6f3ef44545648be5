#!/usr/bin/env bash
# make cluster-down: stops everything cluster-up started and removes what it left on the
# machine (pods and their network, mounts, iptables rules and ipsets, cgroups, the bridge,
# the state folder), so that cluster-up starts from scratch. The build cache and the
# registry's images stay.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "cluster-down needs root" >&2; exit 1; }

# stop NAME: SIGTERM the process started under NAME, SIGKILL after 30 s.
stop() {
  local pid
  if pid=$(alive "$1") && kill "$pid" 2>/dev/null; then
    log "stopping $1"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$CLUSTER_RUN/$1.pid"
}

stop kubelet
# Removing the pod sandboxes runs the CNI DEL of each: veths, addresses, hostPort rules.
if [ -S "$CLUSTER_RUN/containerd.sock" ]; then
  crictl=("$(bin_dir crictl "$CRI_TOOLS_VERSION")/crictl" --runtime-endpoint "unix://$CLUSTER_RUN/containerd.sock" --timeout 60s)
  "${crictl[@]}" rmp --all --force >/dev/null 2>&1 || true
fi
stop containerd
pkill -9 -f "containerd-shim.*-address $CLUSTER_RUN/containerd.sock" 2>/dev/null || true
stop kube-proxy
for name in kube-scheduler kube-controller-manager kube-apiserver etcd registry; do stop "$name"; done

log "removing mounts, network, rules and cgroups"
# Deepest mount first.
awk -v state="$CLUSTER_STATE" -v run="$CLUSTER_RUN" \
  'index($2, state) == 1 || index($2, run) == 1 {print length($2), $2}' /proc/self/mounts |
  sort -rn | cut -d' ' -f2- | while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt"; done
for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns"; done
ip link delete "$CNI_BRIDGE" 2>/dev/null || true

# The chains of kube-proxy, the kubelet and kube-router (KUBE-*) and of the CNI plugins
# (CNI-*), and every rule that jumps to one; the machine's other rules are written back as
# they were.
for save in iptables-save ip6tables-save; do
  restore=${save/save/restore}
  "$save" | grep -vE '^:(KUBE|CNI)-|^-A (KUBE|CNI)-|-j (KUBE|CNI)-' | "$restore"
done
ipset list -n 2>/dev/null | { grep -iE '^(kube|inet6:kube)' || true; } | while read -r set; do ipset destroy "$set"; done

for hierarchy in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
  [ -d "$hierarchy" ] && find "$hierarchy" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
find /var/log/containers -maxdepth 1 -type l -lname "$CLUSTER_STATE/*" -delete 2>/dev/null || true

rm -rf "$CLUSTER_STATE" "$CLUSTER_RUN"
if [ -f "$HOME/.kube/config" ] && [ -x "$K8S_BIN/kubectl" ]; then
  k=("$K8S_BIN/kubectl" --kubeconfig "$HOME/.kube/config")
  if [ "$("${k[@]}" config current-context 2>/dev/null)" = kubernetes-admin@fastapi-example ]; then
    "${k[@]}" config unset current-context >/dev/null
  fi
  "${k[@]}" config delete-context kubernetes-admin@fastapi-example >/dev/null 2>&1 || true
  "${k[@]}" config delete-cluster fastapi-example >/dev/null 2>&1 || true
  "${k[@]}" config delete-user kubernetes-admin >/dev/null 2>&1 || true
fi
log "cluster is down"

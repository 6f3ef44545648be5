#!/usr/bin/env bash
# After `make cluster-down`: fails, naming each, if anything of the cluster is left on the
# machine (processes, mounts, network namespaces and interfaces, iptables rules, ipsets,
# cgroups, files, the kubeconfig context). .ci/run calls it between two cluster-ups.
. "$(dirname "$0")/lib.sh"

left=()
pgrep -f "^$CLUSTER_CACHE/" >/dev/null && left+=("processes: $(pgrep -f -l "^$CLUSTER_CACHE/" | tr '\n' ' ')")
pgrep -f "containerd.*$CLUSTER_RUN" >/dev/null && left+=("process containerd or a shim")
grep -qE " ($CLUSTER_STATE|$CLUSTER_RUN)" /proc/self/mounts && left+=("mounts under the state folders")
ip netns list 2>/dev/null | grep -q '^cni-' && left+=("network namespaces cni-*")
ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && left+=("interface $CNI_BRIDGE")
[ -n "$(ip -o link show type veth 2>/dev/null)" ] && left+=("veth interfaces")
for save in iptables-save ip6tables-save; do
  "$save" | grep -qE '(KUBE|CNI)-' && left+=("$save: KUBE-/CNI- rules")
done
nft list tables 2>/dev/null | grep -qE 'kube-proxy|kube-router' && left+=("nftables tables")
ipset list -n 2>/dev/null | grep -qi kube && left+=("ipsets")
ls -d /sys/fs/cgroup/*/kubepods >/dev/null 2>&1 && left+=("cgroups kubepods")
for dir in "$CLUSTER_STATE" "$CLUSTER_RUN"; do [ -e "$dir" ] && left+=("folder $dir"); done
grep -qs 'kubernetes-admin@fastapi-example' "$HOME/.kube/config" && left+=("context in ~/.kube/config")

if [ ${#left[@]} -gt 0 ]; then
  printf 'cluster-down left: %s\n' "${left[@]}" >&2
  exit 1
fi
log "nothing of the cluster is left"

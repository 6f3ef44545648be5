#!/usr/bin/env bash
# make cluster-up: a single-node Kubernetes on this machine, as root. Builds what is missing
# (build.sh, images.sh), then starts the control plane and the node as host processes and
# installs the add-ons. Run again, it starts only what is not running.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "cluster-up needs root (it runs a kubelet and containerd)" >&2; exit 1; }
[ -n "$NODE_IP" ] || { echo "no default route: cannot pick the node's address" >&2; exit 1; }
command -v helm >/dev/null || { echo "helm is not on PATH (make tools)" >&2; exit 1; }

for cmd in containerd runc iptables ipset conntrack podman debootstrap envsubst jq; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ -n "${missing[*]:-}" ]; then
  log "installing Debian packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends containerd runc \
    containernetworking-plugins iptables ipset conntrack podman debootstrap gettext-base jq >/dev/null
fi

bash "$CLUSTER_DIR/build.sh"
mkdir -p "$CLUSTER_STATE"/{config,kubeconfig,registries/$REGISTRY,cni} "$CLUSTER_LOGS" "$CLUSTER_RUN"

# start NAME COMMAND...: run COMMAND in its own session, its output in $CLUSTER_LOGS/NAME.log,
# unless the process of an earlier start is still alive.
start() {
  local name=$1
  shift
  alive "$name" >/dev/null && return 0
  log "starting $name"
  setsid "$@" >>"$CLUSTER_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_RUN/$name.pid"
}

for f in kubeadm.yaml kubelet.yaml kube-proxy.yaml containerd.toml registry.yaml; do
  render "$CLUSTER_DIR/config/$f" >"$CLUSTER_STATE/config/$f"
done
render "$CLUSTER_DIR/config/registry-hosts.toml" >"$CLUSTER_STATE/registries/$REGISTRY/hosts.toml"
render "$CLUSTER_DIR/config/cni.conflist" >"$CLUSTER_STATE/cni/10-fastapi-example.conflist"

log "kernel settings"
sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
  net.bridge.bridge-nf-call-ip6tables=1 fs.inotify.max_user_instances=1024

start registry "$(bin_dir registry "$DISTRIBUTION_VERSION")/registry" serve "$CLUSTER_STATE/config/registry.yaml"
wait_for 30 "the registry" curl -fsS "http://$REGISTRY/v2/"
bash "$CLUSTER_DIR/images.sh"

pki=$CLUSTER_STATE/pki kubeconfigs=$CLUSTER_STATE/kubeconfig
if [ ! -f "$pki/ca.crt" ]; then
  log "certificates and kubeconfigs (kubeadm)"
  "$K8S_BIN/kubeadm" init phase certs all --config "$CLUSTER_STATE/config/kubeadm.yaml" >/dev/null
  "$K8S_BIN/kubeadm" init phase kubeconfig all --config "$CLUSTER_STATE/config/kubeadm.yaml" \
    --kubeconfig-dir "$kubeconfigs" >/dev/null
  # kube-proxy runs on the host: a client certificate for the user the default RBAC binds
  # to system:node-proxier.
  "$K8S_BIN/kubeadm" kubeconfig user --config "$CLUSTER_STATE/config/kubeadm.yaml" \
    --client-name system:kube-proxy >"$kubeconfigs/kube-proxy.conf" 2>/dev/null
  cp "$kubeconfigs/admin.conf" "$KUBECONFIG_ADMIN"
fi

start etcd "$(bin_dir etcd "$ETCD_VERSION")/etcd" --name "$NODE_NAME" --data-dir "$CLUSTER_STATE/etcd" \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \
  --initial-cluster "$NODE_NAME=https://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
  --client-cert-auth --trusted-ca-file "$pki/etcd/ca.crt" \
  --cert-file "$pki/etcd/server.crt" --key-file "$pki/etcd/server.key" \
  --peer-client-cert-auth --peer-trusted-ca-file "$pki/etcd/ca.crt" \
  --peer-cert-file "$pki/etcd/peer.crt" --peer-key-file "$pki/etcd/peer.key" \
  --snapshot-count 10000 --auto-compaction-retention 1h

start kube-apiserver "$K8S_BIN/kube-apiserver" --advertise-address "$NODE_IP" --secure-port 6443 \
  --etcd-servers https://127.0.0.1:2379 --etcd-cafile "$pki/etcd/ca.crt" \
  --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction --allow-privileged \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-extra-headers-prefix X-Remote-Extra- --requestheader-group-headers X-Remote-Group \
  --requestheader-username-headers X-Remote-User
wait_for 120 "kube-apiserver" kc get --raw /readyz

# kubeadm's admin.conf authenticates as group kubeadm:cluster-admins, which kubeadm init
# binds to cluster-admin (with its super-admin.conf, a system:masters certificate).
super=("$K8S_BIN/kubectl" --kubeconfig "$kubeconfigs/super-admin.conf")
"${super[@]}" create clusterrolebinding kubeadm:cluster-admins --clusterrole cluster-admin \
  --group kubeadm:cluster-admins --dry-run=client -o yaml | "${super[@]}" apply -f - >/dev/null

start kube-controller-manager "$K8S_BIN/kube-controller-manager" --bind-address 127.0.0.1 \
  --kubeconfig "$kubeconfigs/controller-manager.conf" \
  --authentication-kubeconfig "$kubeconfigs/controller-manager.conf" \
  --authorization-kubeconfig "$kubeconfigs/controller-manager.conf" \
  --client-ca-file "$pki/ca.crt" --requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
  --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
  --use-service-account-credentials --cluster-name fastapi-example \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
  --service-cluster-ip-range "$SERVICE_CIDR" --leader-elect=false

start kube-scheduler "$K8S_BIN/kube-scheduler" --bind-address 127.0.0.1 \
  --kubeconfig "$kubeconfigs/scheduler.conf" \
  --authentication-kubeconfig "$kubeconfigs/scheduler.conf" \
  --authorization-kubeconfig "$kubeconfigs/scheduler.conf" --leader-elect=false

alive containerd >/dev/null || rm -f "$CLUSTER_RUN/containerd.sock"
start containerd containerd --config "$CLUSTER_STATE/config/containerd.toml"
wait_for 30 "containerd" ctr --address "$CLUSTER_RUN/containerd.sock" version

start kubelet "$K8S_BIN/kubelet" --config "$CLUSTER_STATE/config/kubelet.yaml" \
  --kubeconfig "$kubeconfigs/kubelet.conf" --root-dir "$CLUSTER_STATE/kubelet" \
  --cert-dir "$CLUSTER_STATE/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
start kube-proxy "$K8S_BIN/kube-proxy" --config "$CLUSTER_STATE/config/kube-proxy.yaml"
wait_for 120 "the node to register" kc get node "$NODE_NAME"

log "add-ons"
for addon in coredns kube-router local-path monitoring kube-state-metrics; do
  render "$CLUSTER_DIR/addons/$addon.yaml" | kc apply -f - >/dev/null
done
operator=$(bin_dir prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
kc apply --server-side -f "$operator/crds" >/dev/null
kc wait --for condition=Established crd --all --timeout 60s >/dev/null
render "$CLUSTER_DIR/addons/prometheus.yaml" | kc apply -f - >/dev/null

helm upgrade --install traefik "$(bin_dir traefik-chart "$TRAEFIK_CHART_VERSION")/traefik" \
  --kubeconfig "$KUBECONFIG_ADMIN" --namespace traefik --create-namespace \
  -f "$CLUSTER_DIR/../kind/traefik-values.yaml" -f "$CLUSTER_DIR/traefik-values.yaml" \
  --set image.tag="$TRAEFIK_VERSION" --wait --timeout 5m >/dev/null

log "waiting for every pod to be Ready"
wait_for 120 "the Prometheus pod" kc -n monitoring get pod prometheus-kps-0
kc wait --for condition=Ready pod --all --all-namespaces --timeout 300s >/dev/null

# kubectl and helm on this machine talk to this cluster by default, as after `kind create`.
mkdir -p "$HOME/.kube"
KUBECONFIG="$HOME/.kube/config:$KUBECONFIG_ADMIN" "$K8S_BIN/kubectl" config view --flatten >"$CLUSTER_STATE/merged"
mv "$CLUSTER_STATE/merged" "$HOME/.kube/config" && chmod 600 "$HOME/.kube/config"
"$K8S_BIN/kubectl" --kubeconfig "$HOME/.kube/config" config use-context kubernetes-admin@fastapi-example >/dev/null
log "cluster is up: kubectl get nodes; make cluster-status"

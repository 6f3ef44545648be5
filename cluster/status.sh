#!/usr/bin/env bash
# make cluster-status: the host processes, the node and the pods of the local cluster.
. "$(dirname "$0")/lib.sh"

status=0
printf '%-24s %-8s %s\n' PROCESS PID LOG
for name in registry etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
  if pid=$(alive "$name"); then
    printf '%-24s %-8s %s\n' "$name" "$pid" "$CLUSTER_LOGS/$name.log"
  else
    printf '%-24s %-8s %s\n' "$name" "-" "not running"
    status=1
  fi
done
[ "$status" -eq 0 ] || { echo "the cluster is not (fully) up: make cluster-up" >&2; exit 1; }

echo
kc version
echo
kc get nodes -o wide
echo
kc get pods --all-namespaces -o wide
echo
cat <<TEXT
kubeconfig  $KUBECONFIG_ADMIN (merged into ~/.kube/config, context kubernetes-admin@fastapi-example)
API server  https://$NODE_IP:6443
registry    http://$REGISTRY (push with: podman push --tls-verify=false $REGISTRY/NAME:TAG)
ingress     http://127.0.0.1:80 (Traefik, IngressClass traefik; e.g. http://fastapi-example.localhost)
prometheus  kubectl -n monitoring port-forward svc/prometheus-operated 9090
logs        $CLUSTER_LOGS/*.log (host processes), kubectl logs (pods)
TEXT

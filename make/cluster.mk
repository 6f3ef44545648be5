# A real single-node Kubernetes on this machine, built from source (docs/cluster.md). Root.
.PHONY: cluster-build cluster-up cluster-down cluster-status

cluster-build: ## build the cluster's binaries and images (cached by version; cold: see docs/cluster.md)
	bash cluster/build.sh

cluster-up: tools ## build what is missing, start the cluster, merge its kubeconfig into ~/.kube/config
	bash cluster/up.sh

cluster-down: ## stop the cluster and remove everything it left (the build cache stays)
	bash cluster/down.sh

cluster-status: ## host processes, node and pods of the local cluster
	@bash cluster/status.sh

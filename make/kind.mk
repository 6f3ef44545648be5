# kind: a local cluster with Traefik (and optionally kube-prometheus-stack) for the dev loop
# and the end-to-end suite; make/deploy.mk puts the image and the chart on it.
#   make kind-up deploy e2e      # MONITORING=1 make kind-up … adds kube-prometheus-stack
# KIND, KIND_CLUSTER, HELM and HELM_TIMEOUT are make/deploy.mk's.
MONITORING ?=
TRAEFIK_CHART_VERSION ?= 41.6.0
KPS_CHART_VERSION ?= 82.6.0

.PHONY: kind-up kind-down

kind-up: ## create the kind cluster (host ports 80/443) with Traefik; MONITORING=1 adds kube-prometheus-stack
	@$(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' || \
	  $(KIND) create cluster --config kind/cluster.yaml --name $(KIND_CLUSTER) --wait 120s
	$(HELM) repo add traefik https://traefik.github.io/charts --force-update >/dev/null
	$(HELM) upgrade --install traefik traefik/traefik --version $(TRAEFIK_CHART_VERSION) \
	  --namespace traefik --create-namespace -f kind/traefik-values.yaml --wait --timeout $(HELM_TIMEOUT)
ifneq ($(MONITORING),)
	$(HELM) repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
	$(HELM) upgrade --install kps prometheus-community/kube-prometheus-stack --version $(KPS_CHART_VERSION) \
	  --namespace monitoring --create-namespace -f kind/kube-prometheus-stack-values.yaml --wait --timeout 10m
endif

kind-down: ## delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)

.PHONY: k8s-sync
k8s-sync: ## copy grafana-dashboards/ and prometheus/alerts.rules.yaml into k8s/components/monitoring
	$(BIN)/python tests/manifests/sync_monitoring.py

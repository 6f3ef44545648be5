# kind: a local cluster with Traefik (and optionally kube-prometheus-stack), the image loaded
# into it, the chart deployed with kind/values.yaml, the end-to-end suite against it.
#   make kind-up deploy e2e      # MONITORING=1 make kind-up … adds kube-prometheus-stack
KIND ?= kind
HELM ?= helm
KUBECTL ?= kubectl
KIND_CLUSTER ?= fastapi-example
NAMESPACE ?= fastapi-example
RELEASE ?= fastapi-example
# IMAGE and CONTAINER_ENGINE are make/image.mk's (`make image`).
IMAGE ?= fastapi-example:dev
IMAGE_REPO = $(word 1,$(subst :, ,$(IMAGE)))
IMAGE_TAG = $(word 2,$(subst :, ,$(IMAGE)))
MONITORING ?=
TRAEFIK_CHART_VERSION ?= 41.6.0
KPS_CHART_VERSION ?= 82.6.0
HELM_TIMEOUT ?= 5m

.PHONY: kind-up kind-load deploy e2e kind-down kind-logs

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

kind-load: image ## build the image (make image) and load it into the kind nodes
	mkdir -p build
	$(CONTAINER_ENGINE) save -o build/kind-image.tar $(IMAGE)
	$(KIND) load image-archive build/kind-image.tar --name $(KIND_CLUSTER)
	rm -f build/kind-image.tar

deploy: kind-load ## helm upgrade --install the chart into kind (kind/values.yaml) and wait for the rollout
	$(HELM) upgrade --install $(RELEASE) charts/fastapi-example --namespace $(NAMESPACE) --create-namespace \
	  -f kind/values.yaml --set image.repository=$(IMAGE_REPO) --set image.tag=$(IMAGE_TAG) \
	  $(if $(MONITORING),--set metrics.serviceMonitor.enabled=true --set metrics.prometheusRule.enabled=true) \
	  --wait --timeout $(HELM_TIMEOUT)

e2e: venv ## the end-to-end suite against the kind cluster (E2E_TARGET=kind)
	E2E_TARGET=kind E2E_NAMESPACE=$(NAMESPACE) E2E_RELEASE=$(RELEASE) $(BIN)/pytest tests/e2e -p no:cacheprovider

kind-logs: ## pod list, events and logs of the app's namespace (what CI prints on failure)
	-$(KUBECTL) get pods,svc,ingress,jobs -A -o wide
	-$(KUBECTL) -n $(NAMESPACE) get events --sort-by=.lastTimestamp
	-$(KUBECTL) -n $(NAMESPACE) logs --all-containers --prefix --tail=200 -l app.kubernetes.io/instance=$(RELEASE)

kind-down: ## delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)

.PHONY: k8s-sync
k8s-sync: ## copy grafana-dashboards/ and prometheus/alerts.rules.yaml into k8s/components/monitoring
	$(BIN)/python tests/manifests/sync_monitoring.py

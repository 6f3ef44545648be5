# The image and the chart on the cluster of the current kubeconfig, and the end-to-end suite
# against it. How the image gets there depends on the cluster:
#   kind (context kind-$(KIND_CLUSTER))        `kind load`
#   make cluster-up (kubernetes-admin@fastapi-example)  push to its registry, localhost:5000
#   any other cluster                           push to REGISTRY=<a registry it pulls from>
HELM ?= helm
KUBECTL ?= kubectl
KIND ?= kind
KIND_CLUSTER ?= fastapi-example
NAMESPACE ?= fastapi-example
RELEASE ?= fastapi-example
HELM_TIMEOUT ?= 5m
# IMAGE and CONTAINER_ENGINE are make/image.mk's (`make image`).
KUBE_CONTEXT ?= $(shell $(KUBECTL) config current-context 2>/dev/null)
ifeq ($(KUBE_CONTEXT),kubernetes-admin@fastapi-example)
  # This machine's cluster: no registry but its own, no base image but the offline one.
  REGISTRY ?= localhost:5000
  IMAGE_LOCAL ?= 1
  MYSQL_IMAGE ?= localhost:5000/mariadb:10.11
endif
REGISTRY ?=
# The MySQL image the chart runs ("" keeps the chart's default, mysql:8.4).
MYSQL_IMAGE ?=
# A registry on loopback speaks plain HTTP.
PUSH_FLAGS ?= $(if $(filter localhost:% 127.0.0.1:%,$(REGISTRY)),$(if $(filter podman%,$(notdir $(CONTAINER_ENGINE))),--tls-verify=false))
# The image as the cluster's kubelet pulls it. Pushed to a registry, it is tagged by the
# content it is built from: a kubelet never pulls again a tag it already has.
SOURCE_HASH := $(shell find service cronjobs -type f -not -path '*/__pycache__/*' | sort | xargs cat | sha256sum | cut -c1-12)
CLUSTER_IMAGE = $(if $(filter kind-$(KIND_CLUSTER),$(KUBE_CONTEXT)),$(IMAGE),$(REGISTRY)/$(firstword $(subst :, ,$(notdir $(IMAGE)))):dev-$(SOURCE_HASH))

# The name kind's containerd gives the chart's `image: fastapi-example:dev`. podman would save
# a short name as localhost/…, which the pods do not ask for: the archive carries the full one.
KIND_IMAGE = $(if $(findstring /,$(IMAGE)),$(IMAGE),docker.io/library/$(IMAGE))

.PHONY: image-to-cluster deploy e2e e2e-images logs

image-to-cluster: ## build the image and make the cluster able to pull it (kind load, or push to REGISTRY)
ifeq ($(KUBE_CONTEXT),kind-$(KIND_CLUSTER))
	$(MAKE) image
	mkdir -p build
	$(CONTAINER_ENGINE) tag $(IMAGE) $(KIND_IMAGE)
	$(CONTAINER_ENGINE) save -o build/kind-image.tar $(KIND_IMAGE)
	$(KIND) load image-archive build/kind-image.tar --name $(KIND_CLUSTER)
	rm -f build/kind-image.tar
else
	@test -n "$(REGISTRY)" || { echo "set REGISTRY to a registry the cluster of context '$(KUBE_CONTEXT)' pulls from" >&2; exit 1; }
	$(MAKE) image IMAGE=$(CLUSTER_IMAGE) IMAGE_LOCAL=$(IMAGE_LOCAL)
	$(CONTAINER_ENGINE) push $(PUSH_FLAGS) $(CLUSTER_IMAGE)
endif

deploy: image-to-cluster ## helm upgrade --install the chart (kind/values.yaml) into the current cluster and wait
	image=$(CLUSTER_IMAGE) mysql=$(MYSQL_IMAGE); \
	$(HELM) upgrade --install $(RELEASE) charts/fastapi-example --namespace $(NAMESPACE) --create-namespace \
	  -f kind/values.yaml --set image.repository=$${image%:*} --set-string image.tag=$${image##*:} \
	  $${mysql:+--set mysql.image.repository=$${mysql%:*} --set-string mysql.image.tag=$${mysql##*:}} \
	  $(if $(MONITORING),--set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.additionalLabels.release=kps \
	    --set metrics.prometheusRule.enabled=true --set metrics.prometheusRule.additionalLabels.release=kps \
	    --set dashboards.enabled=true) \
	  --wait --timeout $(HELM_TIMEOUT)

e2e-images: image-to-cluster ## (for tests/e2e) the images the suite installs, as E2E_* lines
	@echo E2E_IMAGE=$(CLUSTER_IMAGE)
	@echo E2E_MYSQL_IMAGE=$(MYSQL_IMAGE)
	@echo E2E_CHART_REGISTRY=$(if $(filter kind-$(KIND_CLUSTER),$(KUBE_CONTEXT)),,$(REGISTRY))

e2e: venv ## the end-to-end suite on the current cluster (its own releases, in namespaces it makes)
	$(BIN)/pytest tests/e2e -p no:cacheprovider

logs: ## pods, events and logs of every e2e and app namespace (what CI prints on failure)
	-$(KUBECTL) get pods,svc,ingress,jobs,pvc -A -o wide
	-$(KUBECTL) get events -A --sort-by=.lastTimestamp | tail -100
	-for ns in $$($(KUBECTL) get ns -o name | sed -n 's#namespace/\(e2e-.*\|$(NAMESPACE)\)$$#\1#p'); do \
	  $(KUBECTL) -n $$ns logs --all-containers --prefix --tail=100 -l app.kubernetes.io/name=fastapi-example; done

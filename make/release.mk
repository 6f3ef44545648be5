# Releases (issue 26): the API image and the chart as users install them, pushed to REGISTRY.
# A tag vX.Y.Z runs these on GitHub (.github/workflows/release.yml: REGISTRY=ghcr.io/<owner>,
# PLATFORMS=linux/amd64,linux/arm64 through docker buildx, then cosign signs what they pushed);
# here they push to the registry of `make cluster-up` (REGISTRY defaults to it there):
#   make release-image release-chart VERSION=1.2.3
#   helm install fastapi-example oci://localhost:5000/charts/fastapi-example --version 1.2.3 --plain-http
# REGISTRY, PUSH_FLAGS and IMAGE_LOCAL are make/deploy.mk's, CONTAINER_ENGINE make/image.mk's.

# The release's version, as a tag gives it (v1.2.3 and 1.2.3 alike): the image tag and the
# chart's version and appVersion. By default the chart's appVersion.
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' charts/fastapi-example/Chart.yaml)
override VERSION := $(patsubst v%,%,$(VERSION))
RELEASE_REPOSITORY ?= fastapi-example
RELEASE_IMAGE = $(REGISTRY)/$(RELEASE_REPOSITORY):$(VERSION)
# Charts live beside the image, under charts/: oci://<registry>/charts/fastapi-example.
CHART_REGISTRY ?= $(REGISTRY)/charts
# "" = one image for this machine's platform; a list = a multi-arch image through buildx.
PLATFORMS ?=
# The repository's address, labelled on the image (ghcr.io links the package to it) and
# written into the packaged chart where the sources name OWNER/fastapi-example.
SOURCE_URL ?=
RAW_URL = $(patsubst https://github.com/%,https://raw.githubusercontent.com/%,$(SOURCE_URL))
RELEASE_DIR := build/release
HELM_PUSH_FLAGS ?= $(if $(filter localhost:% 127.0.0.1:%,$(REGISTRY)),--plain-http)

.PHONY: release-image release-chart release-notes release-check

release-check:
	@test -n "$(REGISTRY)" || { echo "set REGISTRY to where the release goes (ghcr.io/<owner>, localhost:5000)" >&2; exit 1; }
	@echo "$(VERSION)" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$$' || \
	  { echo "VERSION must be semver (1.2.3, 1.2.3-rc.1), not '$(VERSION)'" >&2; exit 1; }
	@mkdir -p $(RELEASE_DIR)

release-image: release-check ## build the API image and push it as $(REGISTRY)/fastapi-example:$(VERSION) (PLATFORMS: multi-arch)
ifneq ($(PLATFORMS),)
	# With an SBOM and max-mode provenance attached as attestations.
	docker buildx build -f service/Dockerfile --platform $(PLATFORMS) --sbom=true \
	  --provenance=mode=max --metadata-file $(RELEASE_DIR)/image-metadata.json \
	  --label org.opencontainers.image.version=$(VERSION) \
	  $(if $(SOURCE_URL),--label org.opencontainers.image.source=$(SOURCE_URL)) \
	  -t $(RELEASE_IMAGE) --push .
	jq -r '."containerimage.digest"' $(RELEASE_DIR)/image-metadata.json > $(RELEASE_DIR)/image.digest
else
	$(MAKE) image IMAGE=$(RELEASE_IMAGE) IMAGE_LOCAL=$(IMAGE_LOCAL)
  ifneq ($(filter podman%,$(notdir $(CONTAINER_ENGINE))),)
	$(CONTAINER_ENGINE) push $(PUSH_FLAGS) --digestfile $(RELEASE_DIR)/image.digest $(RELEASE_IMAGE)
  else
	$(CONTAINER_ENGINE) push $(RELEASE_IMAGE)
	$(CONTAINER_ENGINE) image inspect --format '{{index .RepoDigests 0}}' $(RELEASE_IMAGE) \
	  | cut -d@ -f2 > $(RELEASE_DIR)/image.digest
  endif
endif
	@echo "pushed $(RELEASE_IMAGE)@$$(cat $(RELEASE_DIR)/image.digest)"

release-chart: release-check ## package the chart as $(VERSION), its image.registry = REGISTRY, and push it to oci://$(CHART_REGISTRY)
	rm -rf $(RELEASE_DIR)/chart $(RELEASE_DIR)/fastapi-example-*.tgz
	mkdir -p $(RELEASE_DIR)/chart
	# -L: files/ holds symbolic links to the dashboards and rules, relative to the repository.
	cp -RL charts/fastapi-example $(RELEASE_DIR)/chart/
	sed -i 's#^  registry: .*#  registry: $(REGISTRY)#' $(RELEASE_DIR)/chart/fastapi-example/values.yaml
ifneq ($(SOURCE_URL),)
	# Chart.yaml's sources and icon and the alerts' runbook_url point at the repository.
	grep -rlZ OWNER/fastapi-example $(RELEASE_DIR)/chart | xargs -0 sed -i \
	  -e 's#https://github.com/OWNER/fastapi-example#$(SOURCE_URL)#g' \
	  -e 's#https://raw.githubusercontent.com/OWNER/fastapi-example#$(RAW_URL)#g'
	! grep -rn OWNER/ $(RELEASE_DIR)/chart
endif
	$(HELM) package $(RELEASE_DIR)/chart/fastapi-example --version $(VERSION) --app-version $(VERSION) \
	  --destination $(RELEASE_DIR)
	# The packaged chart's default image must be the one release-image pushed.
	$(HELM) template fastapi-example $(RELEASE_DIR)/fastapi-example-$(VERSION).tgz \
	  --show-only templates/deployment.yaml | grep -qx ' *image: $(RELEASE_IMAGE)' || \
	  { echo "the packaged chart does not default to $(RELEASE_IMAGE)" >&2; exit 1; }
	$(HELM) push $(RELEASE_DIR)/fastapi-example-$(VERSION).tgz oci://$(CHART_REGISTRY) $(HELM_PUSH_FLAGS) \
	  > $(RELEASE_DIR)/chart-push.txt 2>&1 || { cat $(RELEASE_DIR)/chart-push.txt >&2; exit 1; }
	cat $(RELEASE_DIR)/chart-push.txt
	sed -n 's/^Digest: *//p' $(RELEASE_DIR)/chart-push.txt > $(RELEASE_DIR)/chart.digest
	test -s $(RELEASE_DIR)/chart.digest

release-notes: release-check ## the release's install notes (after release-image and release-chart) into build/release/notes.md
	@{ echo "## Install"; echo; \
	  echo '```bash'; \
	  echo "helm install fastapi-example oci://$(CHART_REGISTRY)/fastapi-example --version $(VERSION) $(HELM_PUSH_FLAGS) \\"; \
	  echo "  --namespace fastapi-example --create-namespace"; \
	  echo '```'; echo; \
	  echo "| artifact | reference |"; echo "|---|---|"; \
	  echo "| image | \`$(RELEASE_IMAGE)@$$(cat $(RELEASE_DIR)/image.digest)\` |"; \
	  echo "| chart | \`$(CHART_REGISTRY)/fastapi-example:$(VERSION)@$$(cat $(RELEASE_DIR)/chart.digest)\` |"; \
	} > $(RELEASE_DIR)/notes.md
	@cat $(RELEASE_DIR)/notes.md

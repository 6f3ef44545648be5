# The service tests on the newest releases of the frameworks the API is written against.
# The pins in service/requirements.txt keep images reproducible; this tier shows that the code
# does not lean on one release of them. A second virtualenv, upgraded on every run.
LATEST_VENV := .venv-latest
LATEST_PACKAGES := fastapi starlette sqlalchemy sqlmodel pydantic uvicorn
PIP_QUIET := -q --disable-pip-version-check

.PHONY: test-latest
test-latest: ## the service tests on the newest FastAPI, Starlette, SQLAlchemy, SQLModel, pydantic, uvicorn
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install $(PIP_QUIET) -r service/requirements.txt -r requirements-dev.txt
	$(LATEST_VENV)/bin/pip install $(PIP_QUIET) --upgrade $(LATEST_PACKAGES)
	$(LATEST_VENV)/bin/pip install $(PIP_QUIET) --no-deps -e service
	@echo "newest releases tried:"
	@$(LATEST_VENV)/bin/python -c 'from importlib.metadata import version; \
	  print("\n".join(f"  {p} {version(p)}" for p in "$(LATEST_PACKAGES)".split()))'
	$(LATEST_VENV)/bin/pytest tests/service

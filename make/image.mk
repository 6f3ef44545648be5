# The API image. `make image` is the normal build (Docker or podman with a registry);
# `make image-local` (or IMAGE_LOCAL=1 make image) is the offline recipe for machines
# without a registry: a debootstrap stand-in base and a wheelhouse downloaded on the host.
IMAGE ?= fastapi-example:dev
# docker when its daemon answers (a docker CLI alone is not enough), else podman.
ifndef CONTAINER_ENGINE
CONTAINER_ENGINE := $(shell docker info >/dev/null 2>&1 && echo docker || command -v podman 2>/dev/null || echo docker)
endif
LOCAL_BASE_IMAGE ?= localhost/pybase:bookworm
WHEELHOUSE := build/wheelhouse
# Build backend of service/pyproject.toml, needed in the wheelhouse for the offline build.
BUILD_SETUPTOOLS := setuptools==84.2.1

.PHONY: image image-local image-size wheelhouse

ifeq ($(IMAGE_LOCAL),1)
image: image-local
else
image: ## build $(IMAGE) from service/Dockerfile with docker or podman
	$(CONTAINER_ENGINE) build -f service/Dockerfile -t $(IMAGE) .
endif

wheelhouse: venv ## download the API's pinned wheels (for the offline image build)
	$(BIN)/pip download -q --disable-pip-version-check --only-binary=:all: -d $(WHEELHOUSE) \
		-r service/requirements.txt $(BUILD_SETUPTOOLS)

image-local: wheelhouse ## build $(IMAGE) offline with podman (stand-in base, wheelhouse)
	bash .ci/setup-podman.sh
	podman build -q --network none -f service/Dockerfile -t $(IMAGE) \
		--build-arg BASE_IMAGE=$(LOCAL_BASE_IMAGE) \
		--build-arg PIP_ARGS="--no-index --find-links /wheelhouse" \
		--build-context wheelhouse=$(WHEELHOUSE) .

image-size: ## print the size of $(IMAGE)
	@podman image inspect --format '{{.Size}}' $(IMAGE) 2>/dev/null \
		|| docker image inspect --format '{{.Size}}' $(IMAGE)

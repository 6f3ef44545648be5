"""The image built for real (podman, offline recipe) and run from the rendered chart."""

import pytest

from tests.support import helm, mariadb
from tests.support.podman import PodmanChart, build_image, image_size

TAG = "fastapi-example:dev"
_sizes: dict[str, int] = {}


@pytest.fixture(scope="session")
def image() -> str:
    tag = build_image(TAG)
    _sizes[tag] = image_size(tag)
    return tag


@pytest.fixture(scope="module")
def objects(image):
    repository, tag = image.rsplit(":", 1)
    return helm.render(values={"image": {"registry": "", "repository": repository, "tag": tag}})


@pytest.fixture(scope="module")
def chart(objects):
    mariadb.require()
    with PodmanChart(objects) as chart:
        yield chart


def pytest_terminal_summary(terminalreporter):
    for tag, size in _sizes.items():
        terminalreporter.write_line(f"image {tag}: {size / 1e6:.0f} MB ({size} bytes)")

"""The image built for real (podman, offline recipe); tests/e2e runs it on the cluster."""

import pytest

from tests.support.podman import build_image, image_size

TAG = "fastapi-example:dev"
_sizes: dict[str, int] = {}


@pytest.fixture(scope="session")
def image() -> str:
    tag = build_image(TAG)
    _sizes[tag] = image_size(tag)
    return tag


def pytest_terminal_summary(terminalreporter):
    for tag, size in _sizes.items():
        terminalreporter.write_line(f"image {tag}: {size / 1e6:.0f} MB ({size} bytes)")

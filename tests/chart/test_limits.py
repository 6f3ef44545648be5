"""The chart's request limits: the API's settings, and the Ingress controllers' body limit."""

from tests.support import helm


def settings(objects: list[dict]) -> dict:
    (data,) = [c["data"] for c in helm.find_all(objects, "ConfigMap") if "PORT" in c["data"]]
    return data


def test_the_body_and_head_limits_reach_the_api():
    objects = helm.render(values={"config": {"maxBodyBytes": 20000, "maxHeaderBytes": 9000}})
    data = settings(objects)
    assert data["MAX_BODY_BYTES"] == "20000"
    assert data["MAX_HEADER_BYTES"] == "9000"


def test_forwarded_headers_are_not_trusted_from_everyone_by_default():
    data = settings(helm.render())
    assert "*" not in data["FORWARDED_ALLOW_IPS"]


def test_the_ingress_carries_the_body_limit_rounded_up_to_kib():
    objects = helm.render(values={"config": {"maxBodyBytes": 20000}})
    annotations = helm.find(objects, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "20k"
    assert annotations["nginx.org/client-max-body-size"] == "20k"
    assert not helm.find_all(objects, "Middleware")


def test_the_users_annotations_win_and_the_limit_can_be_left_out():
    objects = helm.render(
        values={"ingress": {"annotations": {"nginx.org/client-max-body-size": "1m", "a": "b"}}}
    )
    annotations = helm.find(objects, "Ingress")["metadata"]["annotations"]
    assert annotations["nginx.org/client-max-body-size"] == "1m"
    assert annotations["a"] == "b"
    objects = helm.render(values={"ingress": {"bodyLimitAnnotations": False}})
    assert "annotations" not in helm.find(objects, "Ingress")["metadata"]


def test_a_traefik_middleware_limits_bodies_when_asked():
    objects = helm.render(values={"ingress": {"traefikBodyLimit": True}})
    middleware = helm.find(objects, "Middleware")
    assert middleware["spec"] == {"buffering": {"maxRequestBodyBytes": 16384}}
    annotations = helm.find(objects, "Ingress")["metadata"]["annotations"]
    name = middleware["metadata"]["name"]
    namespace = middleware["metadata"]["namespace"]
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == (
        f"{namespace}-{name}@kubernetescrd"
    )

"""What a release leaves behind. `helm uninstall`: the MySQL volume claim (a StatefulSet's
claims outlive it, as Kubernetes keeps them) and the two generated Secrets (kept on purpose:
the database in that volume only opens with its password, docs/helm.md); nothing else, and
nothing once those are deleted as docs/helm.md says. `kubectl delete namespace`: nothing at
all, the volume included."""

from tests.e2e.release import Cluster
from tests.support.waiting import wait_until

# Every namespaced kind the chart renders, and what the cluster makes from them.
KINDS = (
    "deployments,statefulsets,replicasets,pods,services,endpointslices,configmaps,secrets,"
    "serviceaccounts,roles,rolebindings,ingresses,networkpolicies,poddisruptionbudgets,"
    "horizontalpodautoscalers,cronjobs,jobs,persistentvolumeclaims"
)


def left_in(cluster: Cluster, namespace: str) -> set[str]:
    """kind/name of every object in the namespace but those Kubernetes makes for any
    namespace (the default service account, the root CA ConfigMap)."""
    names = cluster.kubectl("get", KINDS, "-n", namespace, "-o", "name").stdout.split()
    automatic = {"serviceaccount/default", "configmap/kube-root-ca.crt"}
    return {n for n in names if n not in automatic}


def test_uninstall_leaves_the_volume_and_the_kept_secrets(cluster: Cluster, namespaces):
    namespace = namespaces("e2e-uninstall")
    release = cluster.install(namespace)
    claims = {
        f"persistentvolumeclaim/{c.metadata.name}"
        for c in cluster.core.list_namespaced_persistent_volume_claim(namespace).items
    }
    assert len(claims) == 1
    kept = {f"secret/{name}" for name in release.generated_secrets()}
    assert len(kept) == 2

    release.uninstall()
    expected = claims | kept
    wait_until(lambda: left_in(cluster, namespace) == expected, "only the kept objects", 120, 2)
    # Cluster-wide: nothing of the release outside its namespace either.
    volumes = cluster.core.list_persistent_volume().items
    bound = [v for v in volumes if v.spec.claim_ref and v.spec.claim_ref.namespace == namespace]
    assert len(bound) == 1  # the claim's, still bound

    # Wiped as docs/helm.md says: then nothing is left.
    secrets = sorted(name.removeprefix("secret/") for name in kept)
    cluster.kubectl("-n", namespace, "delete", "secret", *secrets)
    instance = f"app.kubernetes.io/instance={release.name}"
    cluster.kubectl("-n", namespace, "delete", "pvc", "-l", instance)
    wait_until(lambda: left_in(cluster, namespace) == set(), "nothing left", 120, 2)


def test_deleting_the_namespace_leaves_nothing(cluster: Cluster, namespaces):
    namespace = namespaces("e2e-uninstall")
    cluster.install(namespace)
    cluster.delete_namespace(namespace)
    cluster.wait_namespace_gone(namespace)
    # The volume's reclaim policy is Delete (the local-path StorageClass): it goes too.
    wait_until(
        lambda: (
            not [
                v
                for v in cluster.core.list_persistent_volume().items
                if v.spec.claim_ref and v.spec.claim_ref.namespace == namespace
            ]
        ),
        "the namespace's volumes to be deleted",
        120,
        2,
    )

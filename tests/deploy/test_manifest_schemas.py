"""Every rendered manifest is valid Kubernetes, checked offline with kubernetes-validate."""

from __future__ import annotations

import pytest

#: The oldest Kubernetes the packaging supports (helm/taskstream/Chart.yaml's
#: kubeVersion, docs/deploy.md) and the newest schema kubernetes-validate ships.
OLDEST_SUPPORTED = "1.30"

#: Custom resources: kubernetes-validate has no schema for them. Anything else
#: without a schema is a typo in a kind or apiVersion and fails.
CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("cert-manager.io/v1", "ClusterIssuer"),
    ("cert-manager.io/v1", "Certificate"),
}


def _validate_all(documents, kubernetes_validate, version):
    problems, validated = [], 0
    for doc in documents:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            if (doc["apiVersion"], doc["kind"]) not in CUSTOM_RESOURCES:
                problems.append(f"{where}: no schema for {doc['apiVersion']} {doc['kind']} in Kubernetes {version}")
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{where}: {path}: {error.message}")
    return problems, validated


@pytest.mark.parametrize("version", ["oldest", "latest"])
def test_kustomize_output_passes_strict_kubernetes_schema_validation(
    kustomization, version, manifests, kubernetes_validate
):
    kube_version = OLDEST_SUPPORTED if version == "oldest" else kubernetes_validate.utils.latest_version()
    problems, validated = _validate_all(manifests.kustomize_build(kustomization), kubernetes_validate, kube_version)
    assert not problems, "\n".join(problems)
    assert validated > 0


@pytest.mark.parametrize("version", ["oldest", "latest"])
def test_helm_output_passes_strict_kubernetes_schema_validation(values_name, version, manifests, kubernetes_validate):
    kube_version = OLDEST_SUPPORTED if version == "oldest" else kubernetes_validate.utils.latest_version()
    problems, validated = _validate_all(manifests.render_chart(values_name), kubernetes_validate, kube_version)
    assert not problems, "\n".join(problems)
    assert validated > 0


def test_chart_declares_the_oldest_kubernetes_version_the_schemas_are_checked_against(manifests):
    chart = (manifests.chart_dir / "Chart.yaml").read_text()
    assert f'kubeVersion: ">={OLDEST_SUPPORTED}.0-0"' in chart

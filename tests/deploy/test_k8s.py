"""deploy/k8s: valid against the Kubernetes schemas (offline, kubernetes-validate) and consistent with the worker:
every variable is a setting, probes hit routes the worker serves, replicas fit the input partitions, labels
select the pods, credentials only come from Secrets.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Oldest Kubernetes minor still supported upstream when this was written, and the newest the package knows.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]
SECRET_SETTINGS = {
    f"NEWSWORKER_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation) or name == "sasl_username"
}


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> list[tuple[str, dict]]:
    return [(f"{path.name}:{doc['kind']}", doc) for path in sorted(K8S.glob("*.yaml"))
            for doc in documents(path) if doc["kind"] != "Kustomization"]


def applied() -> dict[str, dict]:
    """The resources `kubectl apply -k deploy/k8s` creates, by kind."""
    kustomization = documents(K8S / "kustomization.yaml")[0]
    return {doc["kind"]: doc for name in kustomization["resources"] for doc in documents(K8S / name)}


@pytest.fixture(scope="module")
def resources() -> dict[str, dict]:
    return applied()


@pytest.fixture(scope="module")
def container(resources) -> dict:
    (worker,) = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    return worker


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("label", "manifest"), manifests(), ids=[label for label, _ in manifests()])
def test_manifest_matches_the_kubernetes_schema(label, manifest, version):
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validation_would_catch_a_mistake(resources):
    broken = copy.deepcopy(resources["Deployment"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example():
    listed = set(documents(K8S / "kustomization.yaml")[0]["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present
    assert {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget"} <= set(applied())


def test_every_variable_is_a_setting_and_the_configuration_loads(resources, container):
    fields = {f"NEWSWORKER_{name.upper()}" for name in Settings.model_fields}
    config = resources["ConfigMap"]["data"]
    set_by_container = {entry["name"] for entry in container["env"]}
    unknown = (set(config) | set_by_container) - fields
    assert not unknown, f"not settings: {sorted(unknown)}"
    from_secrets = {name: "from-a-secret" for name in set_by_container}
    settings = Settings(**{k.removeprefix("NEWSWORKER_").lower(): v for k, v in {**config, **from_secrets}.items()})
    assert settings.security_protocol in ("SASL_SSL", "SASL_PLAINTEXT", "SSL", "PLAINTEXT")


def test_credentials_come_only_from_secrets(resources, container):
    config = resources["ConfigMap"]["data"]
    assert not SECRET_SETTINGS & set(config), "credentials must not sit in the ConfigMap"
    env = {entry["name"]: entry for entry in container["env"]}
    for name in ("NEWSWORKER_SASL_USERNAME", "NEWSWORKER_SASL_PASSWORD"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "newsworker-kafka-credentials"
    examples = {doc["metadata"]["name"]: doc for doc in documents(K8S / "secret.example.yaml")}
    assert {"username", "password"} <= set(examples["newsworker-kafka-credentials"]["stringData"])


def test_the_ca_file_is_mounted_where_the_settings_point(resources, container):
    cafile = Path(resources["ConfigMap"]["data"]["NEWSWORKER_SSL_CAFILE"])
    volumes = {volume["name"]: volume for volume in resources["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    mounts = {Path(mount["mountPath"]): mount["name"] for mount in container["volumeMounts"]}
    volume = volumes[mounts[cafile.parent]]
    assert cafile.name in {item["path"] for item in volume["secret"]["items"]}


def test_replicas_do_not_exceed_the_input_partitions(resources):
    partitions = int(resources["ConfigMap"]["data"]["NEWSWORKER_PARTITIONS_RAW"])
    replicas = resources["Deployment"]["spec"]["replicas"]
    assert 2 <= replicas <= partitions
    assert resources["PodDisruptionBudget"]["spec"]["maxUnavailable"] < replicas


def test_labels_select_the_worker_pods(resources):
    pod_labels = resources["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selectors = [
        resources["Deployment"]["spec"]["selector"]["matchLabels"],
        resources["Service"]["spec"]["selector"],
        resources["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= pod_labels.items()


def test_probes_and_metrics_use_the_web_port(resources, container):
    port = int(resources["ConfigMap"]["data"]["NEWSWORKER_WEB_PORT"])
    (http,) = container["ports"]
    assert http["containerPort"] == port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == http["name"]
    (metrics,) = resources["Service"]["spec"]["ports"]
    assert metrics["targetPort"] == http["name"]
    assert resources["Service"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_probe_paths_are_routes_the_worker_serves(resources, container):
    if importlib.util.find_spec("worker.app") is None:
        pytest.skip("worker/app.py has not landed yet")
    from worker.app import web_routes

    served = set(web_routes())
    paths = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    paths.add(resources["Service"]["metadata"]["annotations"]["prometheus.io/path"])
    assert paths <= served, f"not served by the worker: {sorted(paths - served)}"


def test_runs_unprivileged_with_time_to_shut_down(resources, container):
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # Long enough to finish a batch and commit; Kubernetes' default (30 s) is about one session timeout.
    assert pod["terminationGracePeriodSeconds"] >= 45
    data_dir = resources["ConfigMap"]["data"]["NEWSWORKER_DATA_DIR"]
    assert data_dir in {mount["mountPath"] for mount in container["volumeMounts"]}, "read-only root: mount it"


def mebibytes(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for suffix in sorted(units, key=len, reverse=True):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * units[suffix]
    return float(quantity) / 2**20


def test_memory_is_sized_from_the_measured_resident_set(container):
    measured = json.loads((ROOT / "deploy" / "measured-rss.json").read_text())["peak_rss_mib"]
    request = mebibytes(container["resources"]["requests"]["memory"])
    limit = mebibytes(container["resources"]["limits"]["memory"])
    # The request covers the measured peak with 20% to spare (larger articles, a bigger story index); the limit
    # leaves room above the request before the OOM killer, but not so much that the request means nothing.
    assert measured * 1.2 <= request <= limit <= 2 * request

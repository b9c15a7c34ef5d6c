"""The kustomize overlays (k8s/<variant>) render, validate against the Kubernetes 1.32 schemas and meet the
deployment rules: probes, resources, hardening, Secrets for credentials, network isolation, one namespace per variant,
headless Services for the called processes, an autoscaler and a disruption budget per Deployment of a split, and the
api served through its pod's balancer (HAProxy, configured by the renderer of every run: harness/balancer.py).

Offline: `kubectl kustomize` only renders. Without kubectl these tests skip, except in CI (CI=true) where they fail.
"""
from __future__ import annotations

import base64
import re
import subprocess
from typing import Any

import kubernetes_validate
import pytest

from harness import balancer
from harness.deploy_k8s import balancer_config_text
from harness.topology import VARIANTS

from .support import ROOT, haproxy_or_skip, objects, pod_specs

KUBERNETES_VERSION = "1.32"
PARAMS = pytest.mark.parametrize("name", list(VARIANTS))
BALANCER_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
"""Where the official haproxy image's command reads its configuration."""


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["spec"]["containers"] + template["spec"].get("initContainers", [])


def container(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in template["spec"]["containers"] if c["name"] == name]
    return found


def named_ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def secret_values(docs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    values = {}
    for name, secret in objects(docs, "Secret").items():
        for key, value in secret.get("stringData", {}).items():
            values[(name, key)] = value
        for key, value in secret.get("data", {}).items():
            values[(name, key)] = base64.b64decode(value).decode()
    return values


@PARAMS
def test_every_object_validates_against_the_kubernetes_schemas(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    assert docs, f"k8s/{name} rendered nothing"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}")


@PARAMS
def test_one_namespace_per_variant_under_the_restricted_pod_security_standard(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    namespaces = objects(docs, "Namespace")
    assert list(namespaces) == [name]
    assert namespaces[name]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == name, f"{doc['kind']}/{doc['metadata']['name']}"


@PARAMS
def test_a_deployment_per_process_with_probes_and_resources(kustomize_output, name: str) -> None:
    variant = VARIANTS[name]
    deployments = objects(kustomize_output[name], "Deployment")
    assert set(deployments) == {p.name for p in variant.processes}
    for proc in variant.processes:
        template = deployments[proc.name]["spec"]["template"]
        names = [c["name"] for c in template["spec"]["containers"]]
        assert names == (["app", "balancer"] if proc.public else ["app"]), proc.name
        app = container(template, "app")
        readiness, liveness = app["readinessProbe"], app["livenessProbe"]
        if proc.protocol == "grpc" and not proc.public:
            assert readiness["grpc"] == liveness["grpc"] == {"port": 50051}, proc.name
        else:
            port = 8001 if proc.public else 8080  # the api's app sits behind its balancer, probed on its own port
            ports = named_ports(app)
            assert liveness["httpGet"]["path"] == "/healthz", proc.name
            assert readiness["httpGet"]["path"] == ("/readyz" if proc.public else "/healthz"), proc.name
            for probe in (readiness, liveness):
                assert ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == port, proc.name
        for each in template["spec"]["containers"]:
            for kind in ("requests", "limits"):
                assert set(each["resources"][kind]) >= {"cpu", "memory"}, f"{proc.name}/{each['name']}: resources.{kind}"


@PARAMS
def test_broker_and_database_run_as_statefulsets_with_services(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    statefulsets, services = objects(docs, "StatefulSet"), objects(docs, "Service")
    expected = {"postgres", "rabbitmq"} if VARIANTS[name].needs_broker else {"postgres"}
    assert set(statefulsets) == expected
    for sts in expected:
        assert sts in services and statefulsets[sts]["spec"]["serviceName"] == sts
    if "rabbitmq" in statefulsets:
        (container,) = statefulsets["rabbitmq"]["spec"]["template"]["spec"]["containers"]
        assert "management" in container["image"]
    postgres = statefulsets["postgres"]["spec"]["template"]["spec"]
    assert {v["configMap"]["name"] for v in postgres["volumes"] if "configMap" in v}, "the init script is mounted"


@PARAMS
def test_every_pod_is_hardened(kustomize_output, name: str) -> None:
    """runAsNonRoot, no privilege escalation, no capabilities, read-only root filesystem, seccomp: the
    "restricted" Pod Security Standard (which the namespace enforces) plus a read-only root."""
    for label, template in pod_specs(kustomize_output[name]).items():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, label
        assert spec["securityContext"]["runAsUser"] > 0, label
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", label
        assert spec.get("automountServiceAccountToken") is False, label
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), label
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        assert not any("hostPath" in v for v in volumes.values()), label
        for container in containers(template):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, label
            assert context["readOnlyRootFilesystem"] is True, label
            assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add"), label
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]], f"{label}: /tmp is not a writable emptyDir"


@PARAMS
def test_app_pods_have_a_writable_data_dir(kustomize_output, name: str) -> None:
    for proc_name, deployment in objects(kustomize_output[name], "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        app = container(deployment["spec"]["template"], "app")
        data_dir = next(e["value"] for e in app["env"] if e["name"] == "DATA_DIR")
        mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert data_dir in mounts and "emptyDir" in volumes[mounts[data_dir]], proc_name
        assert spec.get("enableServiceLinks") is False, f"{proc_name}: service links would add variables to the topology's env"


@PARAMS
def test_credentials_live_in_secrets_marked_as_development_defaults(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    secrets = secret_values(docs)
    tokens = any("{token:" in value for p in VARIANTS[name].processes for value in p.env.values())
    expected = {"postgres-credentials", "api-keys", *(("rabbitmq-credentials",) if VARIANTS[name].needs_broker else ()),
                *(("internal-tokens",) if tokens else ())}
    assert {secret for secret, _ in secrets} == expected
    passwords = {value for (_, key), value in secrets.items() if key == "password"}
    assert passwords and all("dev-only" in p for p in passwords), "committed passwords must say they are dev-only"
    for config_map in objects(docs, "ConfigMap").values():
        for key, value in config_map.get("data", {}).items():
            assert "password" not in key.lower() and not any(p in value for p in passwords), f"credential in ConfigMap {key}"
    for label, template in pod_specs(docs).items():
        for container in containers(template):
            for env in container.get("env", []):
                if "value" in env:
                    assert not any(p in env["value"] for p in passwords), f"{label}: {env['name']} holds a password"
                if any(word in env["name"] for word in ("PASSWORD", "PASS", "USER")):
                    assert "secretKeyRef" in env.get("valueFrom", {}), f"{label}: {env['name']} not from a Secret"


@PARAMS
def test_the_api_keys_secret_holds_only_hashed_entries_and_only_the_api_reads_it(kustomize_output, name: str) -> None:
    from shared.auth import KeyRing, digest

    docs = kustomize_output[name]
    entries = secret_values(docs)[("api-keys", "entries")]
    ring = KeyRing.parse(entries)  # a key pasted in place of an entry would be refused here
    assert len(ring) >= 1 and ring.verify("mk_dev-only-local-k8s-api-key") is not None
    assert digest("mk_dev-only-local-k8s-api-key") in entries and "mk_" not in entries
    for label, template in pod_specs(docs).items():
        for container in containers(template):
            named = [env for env in container.get("env", []) if env["name"] == "API_KEYS"]
            if label == "Deployment/api" and container["name"] == "app":
                assert named == [{"name": "API_KEYS", "valueFrom": {"secretKeyRef": {"name": "api-keys", "key": "entries"}}}]
            else:
                assert named == [], f"{label}/{container['name']}"


def test_committed_secrets_say_they_are_local_development_defaults() -> None:
    for path in (ROOT / "k8s").rglob("*.yaml"):
        text = path.read_text()
        if "kind: Secret" in text:
            assert "LOCAL-DEVELOPMENT DEFAULTS" in text and "dev-only" in text, path


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@PARAMS
def test_network_policies_let_only_the_api_receive_outside_traffic(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    policies = list(objects(docs, "NetworkPolicy").values())
    templates = pod_specs(docs)
    pods = {label: t["metadata"]["labels"] for label, t in templates.items()}
    api = templates["Deployment/api"]
    # A default deny: every pod is selected by a policy for Ingress, so only allowed traffic gets in.
    assert any(p["spec"]["podSelector"] == {} and "Ingress" in p["spec"]["policyTypes"] and not p["spec"].get("ingress")
               for p in policies), "no default-deny ingress policy"
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        for rule in policy["spec"].get("ingress", []):
            sources = rule.get("from")
            selected = [label for label, labels in pods.items() if _selects(selector, labels)]
            if not sources or any("ipBlock" in s or "namespaceSelector" in s for s in sources):
                # open to outside the app: only the api, only on its port
                assert selected == ["Deployment/api"], f"{policy['metadata']['name']} opens {selected}"
                assert [p["port"] for p in rule.get("ports", [])] == [8000]
                # 8000 is the pod's balancer; the app behind it is not reachable from outside the app
                assert named_ports(container(api, "balancer")) == {"http": 8000}
                assert 8000 not in named_ports(container(api, "app")).values()
            else:
                for source in sources:
                    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "monitoring"}
    for label, labels in pods.items():
        assert labels.get("app.kubernetes.io/part-of") == "monitoring", f"{label} is outside the same-app policy"


@PARAMS
def test_services_select_their_pods_and_named_ports(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    templates = pod_specs(docs)
    for service_name, service in objects(docs, "Service").items():
        matched = [t for t in templates.values() if _selects(service["spec"]["selector"], t["metadata"]["labels"])]
        assert len(matched) == 1, f"Service {service_name} selects {len(matched)} pod templates"
        ports = {p["name"]: p["containerPort"] for c in matched[0]["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert (target in ports) if isinstance(target, str) else (target in ports.values()), f"{service_name}:{target}"
            assert ports.get(target, target) == port["port"], f"{service_name}: port {port['port']} → {target}"
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", "exposure is the user's choice (port-forward, Ingress)"


def _peers(variant_name: str) -> set[str]:
    """The processes some other process of the variant calls (its env names their address)."""
    variant = VARIANTS[variant_name]
    return {name for p in variant.processes for v in p.env.values() for name in re.findall(r"\{addr:([a-z]+)\}", v)}


@PARAMS
def test_called_services_are_headless_and_the_api_service_is_not(kustomize_output, name: str) -> None:
    services = objects(kustomize_output[name], "Service")
    called = _peers(name)
    for proc in VARIANTS[name].processes:
        if proc.name in called:
            assert services[proc.name]["spec"].get("clusterIP") == "None", f"{proc.name}: clients must resolve every pod"
        elif proc.public:
            assert "clusterIP" not in services[proc.name]["spec"], "the api keeps a virtual IP"


@PARAMS
def test_split_deployments_are_autoscaled_on_cpu_and_budgeted(kustomize_output, name: str) -> None:
    variant = VARIANTS[name]
    docs = kustomize_output[name]
    deployments = objects(docs, "Deployment")
    autoscalers, budgets = objects(docs, "HorizontalPodAutoscaler"), objects(docs, "PodDisruptionBudget")
    if not variant.is_split:
        assert not autoscalers and not budgets
        assert all(d["spec"]["replicas"] == 1 for d in deployments.values())
        return
    assert set(deployments) == {p.name for p in variant.processes}
    assert set(autoscalers) == set(budgets) == {p.name for p in variant.processes if p.replicable}
    for proc in variant.processes:
        if not proc.replicable:  # one copy, never two at once, not even during a rollout
            spec = deployments.pop(proc.name)["spec"]
            assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}, proc.name
    for proc_name, deployment in deployments.items():
        assert "replicas" not in deployment["spec"], f"{proc_name}: the autoscaler owns the replica count"
        hpa = autoscalers[proc_name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": proc_name}
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # The pod's utilisation is the sum of its containers' usage over the sum of their requests; a container
        # without a CPU request (the api's balancer too) leaves the autoscaler without a figure for the pod.
        for each in deployment["spec"]["template"]["spec"]["containers"]:
            assert each["resources"]["requests"]["cpu"], f"{proc_name}/{each['name']}: CPU utilisation needs a CPU request"
        pdb = budgets[proc_name]
        assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["maxUnavailable"] == 1
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(pdb["spec"]["selector"]["matchLabels"], labels), f"{proc_name}: the budget selects no pod"


# ------------------------------------------------------------------ the api's balancer sidecar

@PARAMS
def test_the_api_pod_serves_through_its_balancer_with_the_generated_configuration(kustomize_output, name: str) -> None:
    docs = kustomize_output[name]
    template = objects(docs, "Deployment")["api"]["spec"]["template"]
    spec = template["spec"]
    proxy, app = container(template, "balancer"), container(template, "app")
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "app"

    assert proxy["image"] == balancer.COMPOSE_IMAGE
    assert named_ports(proxy) == {"http": 8000}
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, "ready through itself"
    assert proxy["livenessProbe"]["tcpSocket"] == {"port": "http"}, "alive whatever the app does"
    assert "command" not in proxy and "args" not in proxy, "the image's command reads the mounted configuration"
    (mount,) = [m for m in proxy["volumeMounts"] if m["mountPath"] == BALANCER_CONFIG]
    assert mount["subPath"] == "haproxy.cfg" and mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    config_maps = objects(docs, "ConfigMap")
    generated = config_maps[volume["configMap"]["name"]]  # the name with kustomize's content hash
    assert generated["metadata"]["name"].startswith("balancer-")
    text = generated["data"]["haproxy.cfg"]
    assert text == (ROOT / "k8s" / name / "haproxy.cfg").read_text() == balancer_config_text()

    # The app listens behind it, in the same pod, on every interface (the kubelet probes it there).
    assert named_ports(app) == {"app": 8001}
    assert app["command"][app["command"].index("--bind") + 1] == "0.0.0.0:8001"
    assert re.search(r"^    bind :8000$", text, re.M), "the balancer listens on the pod's addresses"
    servers = re.findall(r"^    server \S+ (\S+) ", text, re.M)
    assert servers and set(servers) == {"127.0.0.1:8001"}, servers
    assert f"maxconn {balancer.API_REQUESTS}" in text and f"maxconn {balancer.HEALTH_REQUESTS}" in text

    (port,) = objects(docs, "Service")["api"]["spec"]["ports"]
    assert port["port"] == 8000 and named_ports(proxy).get(port["targetPort"]) == 8000, "the Service targets the balancer"


@PARAMS
def test_the_overlays_balancer_configuration_is_the_renderers_and_haproxy_accepts_it(name: str) -> None:
    path = ROOT / "k8s" / name / "haproxy.cfg"
    assert path.read_text() == balancer_config_text() == balancer.pod_config(8000, 8001)
    assert path.read_text().startswith("# Generated from harness/balancer.py") and "do not edit" in path.read_text()
    done = subprocess.run([haproxy_or_skip(), "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr

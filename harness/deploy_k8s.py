"""Render the topology into the Kubernetes overlays ``k8s/<variant>/``: per process a Deployment, a Service when
something calls it, and, in a split variant, a HorizontalPodAutoscaler and a PodDisruptionBudget.

Scaling out: a split's Deployments leave ``replicas`` to their HorizontalPodAutoscaler (CPU, ``HPA_*`` below), and a
PodDisruptionBudget lets a drain take at most one pod of each away at a time. The Services of the processes that
others call are headless (``clusterIP: None``): their DNS name resolves to every ready pod, so a gRPC client
(``dns:///monitor:50051``) opens a connection to each and balances per call, where a ClusterIP would pin its one
long-lived HTTP/2 connection to one pod. The public api keeps a ClusterIP Service (kube-proxy spreads connections).

The api pod has two containers. ``balancer`` is the HAProxy that every local run and compose profile puts in front
of the api, with the same configuration (``harness/balancer.py``, rendered into ``k8s/<variant>/haproxy.cfg`` and
mounted from a ConfigMap the overlay generates): gunicorn's gthread worker has a fixed number of threads (16) and
needs a buffering proxy in front of it; without one, sixteen slow clients or a downstream that hangs hold every
thread, and the kubelet's probes fail with the rest. The balancer reads each request whole before it takes a thread, lets at most
``balancer.API_REQUESTS`` at a time reach the app (the others wait 1 s, then get a JSON 503) and keeps slots of its
own for ``/healthz`` and ``/readyz``. It listens on the public port (8000, ``http``: the Service's target and the
only port the network policies open to outside the app) and forwards to ``app`` on ``127.0.0.1:8001`` in the same
pod. The app binds 8001 on every interface so that the kubelet probes it directly, on the threads the balancer
keeps free; other pods of the app may reach it too (``allow-from-same-app``), clients outside cannot. The balancer's
readiness probe goes through itself to the app's ``/readyz``, so a pod leaves the Service when either cannot serve;
its liveness probe is a TCP connect, which does not depend on the app. Its hardening, resources and ``/tmp`` come
from ``k8s/components/app-defaults`` like the app container's.
"""
from __future__ import annotations

from typing import Any

from . import balancer
from .deploy_common import (
    API_KEYS_SECRET,
    API_PORT,
    GRPC_PORT,
    HEADER,
    IMAGE,
    INTERNAL_TOKENS_SECRET,
    METRICS_PORT,
    PART_OF,
    Block,
    Flow,
    Platform,
    container_port,
    databases,
    peers,
    port_name,
    to_yaml,
)
from .topology import BROKER_URL, ProcessSpec, Variant

HPA_MIN_REPLICAS = 2
"""Two from the start: one pod can be drained or crash while the other serves."""
HPA_MAX_REPLICAS = 6
HPA_CPU_UTILIZATION = 70
"""Percent of the pod's CPU requests (set by ``k8s/components/app-defaults``). The autoscaler sums the usage and the
requests of all of a pod's containers, and computes nothing for a pod where a container has no CPU request: the api
pod's balancer therefore requests CPU too (10m beside the app's 100m), so an api scales at 70% of 110m, the
balancer's usage, a small share that grows with the same traffic, counted with the app's."""

APP_PORT = 8001
"""Where the api's app container listens in its pod; the public port (``API_PORT``) is the balancer's."""
APP_PORT_NAME = "app"
BALANCER = "balancer"
"""The api pod's second container (and the component's patch for it) and its ConfigMap's name."""
BALANCER_CONFIG = "haproxy.cfg"
"""Written into each overlay beside its kustomization, which turns it into the ConfigMap ``balancer``; kustomize
appends a hash of the content to the name, so a changed configuration rolls the api pods (a ``subPath`` mount
would not see an update in place)."""
BALANCER_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
"""Where the official image's command reads it."""


def _listen_port(proc: ProcessSpec) -> int:
    return APP_PORT if proc.public else container_port(proc)


K8S = Platform(
    address=lambda v, p: f"{p.name}:{container_port(p)}",
    listen_port=_listen_port,
    database_url=lambda v, store: f"postgresql://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@postgres:5432/{store}",
    rabbitmq_url=lambda user: (
        f"amqp://{user}:$(RABBITMQ_USER_PASSWORD)@rabbitmq:5672/%2F" if user
        else "amqp://$(RABBITMQ_ADMIN_USER):$(RABBITMQ_ADMIN_PASSWORD)@rabbitmq:5672/%2F"
    ),
    token=lambda service: f"$(INTERNAL_TOKEN_{service.upper()})",
)

# k8s: variables filled from Secrets, defined before the values that interpolate them.
K8S_SECRET_ENV = {
    "POSTGRES_USER": ("postgres-credentials", "username"),
    "POSTGRES_PASSWORD": ("postgres-credentials", "password"),
    **{f"INTERNAL_TOKEN_{s.upper()}": (INTERNAL_TOKENS_SECRET, s) for s in ("monitor", "alerting", "notification")},
    "RABBITMQ_ADMIN_USER": ("rabbitmq-credentials", "username"),
    "RABBITMQ_ADMIN_PASSWORD": ("rabbitmq-credentials", "password"),
}
BROKER_PASSWORD_SECRET = "rabbitmq-credentials"
"""The key of a broker user's password in it is the user's name (``api``, ``monitor``, ...)."""




def k8s_files(variant: Variant) -> dict[str, str]:
    """The files of ``k8s/<variant>/``: its kustomization, one Deployment (+ Service) per process and the api's
    balancer configuration."""
    files = {"kustomization.yaml": HEADER + f"# kubectl apply -k k8s/{variant.name}\n" + to_yaml(_kustomization(variant)),
             BALANCER_CONFIG: balancer_config_text()}
    for proc in variant.processes:
        docs = [_deployment(variant, proc)]
        called = any(proc.name in peers(p) for p in variant.processes)
        if proc.public or called:
            docs.append(_service(proc, headless=called and not proc.public))
        if autoscaled(variant, proc):
            docs += [_autoscaler(proc), _disruption_budget(proc)]
        files[f"{proc.name}.yaml"] = HEADER + "---\n".join(to_yaml(d) for d in docs)
    return files


def _kustomization(variant: Variant) -> dict[str, Any]:
    components = ["../components/app-defaults"]
    if variant.needs_broker:
        components.append("../components/rabbitmq")
    if any("{token:" in value for p in variant.processes for value in p.env.values()):
        components.append("../components/internal-tokens")
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": variant.name,
        "resources": ["../base", *(f"{p.name}.yaml" for p in variant.processes)],
        "components": components,
        "configMapGenerator": [
            Block(name="postgres-databases", literals=[f"POSTGRES_DATABASES={' '.join(databases(variant))}"]),
            Block(name=BALANCER, files=[BALANCER_CONFIG]),
        ],
    }


def balancer_config_text() -> str:
    """The api pod's balancer configuration: the public port on every interface, the app container behind it."""
    return balancer.pod_config(API_PORT, APP_PORT)


SCRAPE_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                      "prometheus.io/path": "/metrics"}
"""On every app pod: where a Prometheus that honours these annotations scrapes it (``{metrics_port}``, open to the
app's own pods; ``k8s/components/prometheus-scrape`` opens it to a Prometheus in another namespace)."""


def _labels(proc: ProcessSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": proc.name, "app.kubernetes.io/part-of": PART_OF}


def _k8s_env(variant: Variant, proc: ProcessSpec) -> list[dict[str, Any]]:
    env = K8S.env(variant, proc)
    used = "".join(env.values())
    entries: list[dict[str, Any]] = [
        Flow(name=name, valueFrom={"secretKeyRef": {"name": secret, "key": key}})
        for name, (secret, key) in K8S_SECRET_ENV.items()
        if f"$({name})" in used
    ]
    for user in dict.fromkeys(BROKER_URL.findall("".join(proc.env.values()))):  # its broker user's password
        entries.append(Flow(name="RABBITMQ_USER_PASSWORD",
                            valueFrom={"secretKeyRef": {"name": BROKER_PASSWORD_SECRET, "key": user}}))
    if proc.public:  # the api's keys: hashed entries, from their own Secret
        entries.append(Flow(name="API_KEYS", valueFrom={"secretKeyRef": {"name": API_KEYS_SECRET[0], "key": API_KEYS_SECRET[1]}}))
    return entries + [Flow(name=k, value=v) for k, v in env.items()]


def _probe(proc: ProcessSpec, path: str, port: str, **timing: int) -> dict[str, Any]:
    if proc.protocol == "grpc" and not proc.public:
        check: dict[str, Any] = {"grpc": {"port": GRPC_PORT}}
    else:
        check = {"httpGet": {"path": path, "port": port}}
    return {**check, **timing}


def _deployment(variant: Variant, proc: ProcessSpec) -> dict[str, Any]:
    port = APP_PORT_NAME if proc.public else port_name(proc)
    container = {
        "name": "app",
        "image": IMAGE,
        "command": K8S.argv(variant, proc),
        "env": _k8s_env(variant, proc),
        "ports": [Flow(name=port, containerPort=_listen_port(proc))],
        "readinessProbe": _probe(proc, "/readyz" if proc.public else "/healthz", port, periodSeconds=5, timeoutSeconds=3),
        "livenessProbe": _probe(proc, "/healthz", port, initialDelaySeconds=10, periodSeconds=10, timeoutSeconds=3,
                                failureThreshold=6),
    }
    metadata: dict[str, Any] = {"labels": _labels(proc), "annotations": dict(SCRAPE_ANNOTATIONS)}
    pod: dict[str, Any] = {"containers": [container]}
    if proc.public:
        metadata["annotations"]["kubectl.kubernetes.io/default-container"] = "app"  # kubectl logs, exec
        pod["containers"].append(_balancer_container(proc))
        pod["volumes"] = [Block(name=BALANCER, configMap={"name": BALANCER})]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            **({} if autoscaled(variant, proc) else {"replicas": 1}),  # else the autoscaler's count is reset on apply
            # a process that must not run twice is stopped before its new version starts (no surge pod)
            **({} if proc.replicable else {"strategy": {"type": "Recreate"}}),
            "selector": {"matchLabels": {"app.kubernetes.io/name": proc.name}},
            "template": {"metadata": metadata, "spec": pod},
        },
    }


def _balancer_container(proc: ProcessSpec) -> dict[str, Any]:
    """HAProxy on the public port in front of the pod's app container (the image's own command reads the mounted
    configuration); resources, hardening and ``/tmp`` come from the ``app-defaults`` component."""
    name = port_name(proc)
    return {
        "name": BALANCER,
        "image": balancer.COMPOSE_IMAGE,
        "ports": [Flow(name=name, containerPort=container_port(proc))],
        # Through the balancer to the app's /readyz: ready when both are.
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": name}, "periodSeconds": 5, "timeoutSeconds": 3},
        # The balancer itself only: an app that is down must not get it restarted.
        "livenessProbe": {"tcpSocket": {"port": name}, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
        "volumeMounts": [Flow(name=BALANCER, mountPath=BALANCER_CONFIG_PATH, subPath=BALANCER_CONFIG, readOnly=True)],
    }


def _service(proc: ProcessSpec, headless: bool) -> dict[str, Any]:
    name = port_name(proc)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            **({"clusterIP": "None"} if headless else {}),
            "selector": {"app.kubernetes.io/name": proc.name},
            "ports": [Flow(name=name, port=container_port(proc), targetPort=name)],
        },
    }


def autoscaled(variant: Variant, proc: ProcessSpec) -> bool:
    """The processes of a split variant that the topology lets run as several copies."""
    return variant.is_split and proc.replicable


def _autoscaler(proc: ProcessSpec) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": proc.name},
            "minReplicas": HPA_MIN_REPLICAS,
            "maxReplicas": HPA_MAX_REPLICAS,
            "metrics": [Block(type="Resource", resource={
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": HPA_CPU_UTILIZATION}})],
        },
    }


def _disruption_budget(proc: ProcessSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": proc.name}}},
    }

"""Render the topology into the Kubernetes overlays ``k8s/<variant>/``: per process a Deployment, a Service when
something calls it, and, in a split variant, a HorizontalPodAutoscaler and a PodDisruptionBudget.

Scaling out: a split's Deployments leave ``replicas`` to their HorizontalPodAutoscaler (CPU, ``HPA_*`` below), and a
PodDisruptionBudget lets a drain take at most one pod of each away at a time. The Services of the processes that
others call are headless (``clusterIP: None``): their DNS name resolves to every ready pod, so a gRPC client
(``dns:///monitor:50051``) opens a connection to each and balances per call, where a ClusterIP would pin its one
long-lived HTTP/2 connection to one pod. The public api keeps a ClusterIP Service (kube-proxy spreads connections).
"""
from __future__ import annotations

from typing import Any

from .deploy_common import (
    GRPC_PORT,
    HEADER,
    IMAGE,
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
from .topology import ProcessSpec, Variant

HPA_MIN_REPLICAS = 2
"""Two from the start: one pod can be drained or crash while the other serves."""
HPA_MAX_REPLICAS = 6
HPA_CPU_UTILIZATION = 70
"""Percent of the container's CPU request (set by ``k8s/components/app-defaults``)."""

K8S = Platform(
    address=lambda v, p: f"{p.name}:{container_port(p)}",
    database_url=lambda v, store: f"postgresql://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@postgres:5432/{store}",
    rabbitmq_url="amqp://$(RABBITMQ_USER):$(RABBITMQ_PASSWORD)@rabbitmq:5672/%2F",
)

# k8s: variables filled from Secrets, defined before the values that interpolate them.
K8S_SECRET_ENV = {
    "POSTGRES_USER": ("postgres-credentials", "username"),
    "POSTGRES_PASSWORD": ("postgres-credentials", "password"),
    "RABBITMQ_USER": ("rabbitmq-credentials", "username"),
    "RABBITMQ_PASSWORD": ("rabbitmq-credentials", "password"),
}




def k8s_files(variant: Variant) -> dict[str, str]:
    """The files of ``k8s/<variant>/``: its kustomization and one Deployment (+ Service) per process."""
    files = {"kustomization.yaml": HEADER + f"# kubectl apply -k k8s/{variant.name}\n" + to_yaml(_kustomization(variant))}
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
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": variant.name,
        "resources": ["../base", *(f"{p.name}.yaml" for p in variant.processes)],
        "components": components,
        "configMapGenerator": [
            Block(name="postgres-databases", literals=[f"POSTGRES_DATABASES={' '.join(databases(variant))}"]),
        ],
    }


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
    return entries + [Flow(name=k, value=v) for k, v in env.items()]


def _probe(proc: ProcessSpec, path: str, **timing: int) -> dict[str, Any]:
    if proc.protocol == "grpc" and not proc.public:
        check: dict[str, Any] = {"grpc": {"port": GRPC_PORT}}
    else:
        check = {"httpGet": {"path": path, "port": port_name(proc)}}
    return {**check, **timing}


def _deployment(variant: Variant, proc: ProcessSpec) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": IMAGE,
        "command": K8S.argv(variant, proc),
        "env": _k8s_env(variant, proc),
        "ports": [Flow(name=port_name(proc), containerPort=container_port(proc))],
        "readinessProbe": _probe(proc, "/readyz" if proc.public else "/healthz", periodSeconds=5, timeoutSeconds=3),
        "livenessProbe": _probe(proc, "/healthz", initialDelaySeconds=10, periodSeconds=10, timeoutSeconds=3,
                                failureThreshold=6),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": proc.name, "labels": _labels(proc)},
        "spec": {
            **({} if autoscaled(variant, proc) else {"replicas": 1}),  # else the autoscaler's count is reset on apply
            "selector": {"matchLabels": {"app.kubernetes.io/name": proc.name}},
            "template": {"metadata": {"labels": _labels(proc)}, "spec": {"containers": [container]}},
        },
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

"""Validates the Kubernetes files of this folder (run by tests/ship.rs; needs kubernetes-validate).

* Every manifest (every *.yaml here but helm-values.yaml) against the Kubernetes schemas of the
  versions below, strictly (an unknown field is an error).
* helm-values.yaml: the chart itself cannot be rendered here (no helm, no chart), so what can be
  checked is checked: the containers in initContainers.coordinator, the volumes in
  coordinator.additionalVolumes and the mounts in coordinator.additionalVolumeMounts must each
  be a valid Kubernetes object of their kind. They are put into one Pod (with a stand-in for the
  chart's Trino container) only to be validated; that Pod is not what the chart renders.
* In every pod spec: each volumeMount names a volume of the pod, each configMap and secret the
  pod uses is defined in this folder, and a native sidecar has no startupProbe (it would hold the
  coordinator back while /readyz waits for the coordinator).

Usage: python kubernetes/check.py [FILE...]   (default: every *.yaml next to this script)
Exit 0 when everything passes; otherwise 1, with one line per problem.
"""

import pathlib
import sys

import kubernetes_validate
import yaml

VERSIONS = ["1.33.0", "1.37.0"]  # native sidecars are GA from 1.33; 1.37 is the newest schema here
HERE = pathlib.Path(__file__).resolve().parent


def validate(resource, where, problems):
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            problems.append(f"{where}: Kubernetes {version}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{where}: Kubernetes {version}: {error}")


def pod_specs(resource):
    kind = resource.get("kind")
    if kind == "Pod":
        yield resource["spec"]
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield resource["spec"]["template"]["spec"]


def check_pod(spec, where, defined, problems):
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    containers = spec.get("initContainers", []) + spec.get("containers", [])
    for container in containers:
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problems.append(
                    f"{where}: container {container['name']} mounts volume {mount['name']}, "
                    "which the pod does not have"
                )
        if container.get("restartPolicy") == "Always" and "startupProbe" in container:
            problems.append(
                f"{where}: sidecar {container['name']} has a startupProbe: it would hold the "
                "coordinator's start back"
            )
        for source in container.get("envFrom", []):
            for kind in ("configMapRef", "secretRef"):
                if kind in source and defined is not None:
                    name = source[kind]["name"]
                    if (kind, name) not in defined:
                        problems.append(f"{where}: {kind} {name} is not defined in {HERE.name}/")
    if defined is not None:
        for volume in volumes.values():
            for kind, key, ref in (("configMap", "name", "configMapRef"), ("secret", "secretName", "secretRef")):
                if kind in volume and (ref, volume[kind][key]) not in defined:
                    problems.append(
                        f"{where}: volume {volume['name']} uses {kind} {volume[kind][key]}, "
                        f"which is not defined in {HERE.name}/"
                    )


def check_helm_values(path, values, defined, problems):
    where = path.name
    coordinator = values.get("coordinator", {})
    init = values.get("initContainers", {}).get("coordinator", [])
    if not init:
        problems.append(f"{where}: initContainers.coordinator is empty")
    if not any(c.get("restartPolicy") == "Always" for c in init):
        problems.append(f"{where}: no native sidecar (restartPolicy: Always) in initContainers.coordinator")
    # A stand-in for the chart's Trino container: only what the values add to it.
    trino = {
        "name": "trino-coordinator",
        "image": "trinodb/trino",
        "volumeMounts": coordinator.get("additionalVolumeMounts", []),
        "envFrom": values.get("envFrom", []),
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helm-values-fragments"},
        "spec": {
            "initContainers": init,
            "containers": [trino],
            "volumes": coordinator.get("additionalVolumes", []),
        },
    }
    validate(pod, where, problems)
    check_pod(pod["spec"], where, defined, problems)
    if values.get("catalogs", "unset") is not None:
        problems.append(
            f"{where}: catalogs must be null: the chart's catalog ConfigMap restarts pods on change"
        )
    files = coordinator.get("additionalConfigFiles", {})
    if "catalog.config-dir" not in files.get("catalog-store.properties", ""):
        problems.append(f"{where}: catalog-store.properties must name catalog.config-dir")
    for line in values.get("additionalConfigProperties", []) + [values.get("server", {}).get("coordinatorExtraConfig", "")]:
        if "catalog.config-dir" in line:
            problems.append(f"{where}: catalog.config-dir belongs in catalog-store.properties, not config.properties")


def main(argv):
    paths = [pathlib.Path(a) for a in argv] or sorted(HERE.glob("*.yaml"))
    problems = []
    documents = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            documents[path] = [d for d in yaml.safe_load_all(f) if d is not None]
    defined = {
        ("configMapRef" if d["kind"] == "ConfigMap" else "secretRef", d["metadata"]["name"])
        for docs in documents.values()
        for d in docs
        if d.get("kind") in ("ConfigMap", "Secret")
    }
    checked = 0
    for path, docs in documents.items():
        if path.name == "helm-values.yaml":
            check_helm_values(path, docs[0], defined, problems)
            checked += 1
            continue
        for index, resource in enumerate(docs):
            where = f"{path.name}#{index} {resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
            validate(resource, where, problems)
            for spec in pod_specs(resource):
                check_pod(spec, where, defined, problems)
            checked += 1
    for problem in problems:
        print(problem)
    print(f"{checked} checked against Kubernetes {', '.join(VERSIONS)}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

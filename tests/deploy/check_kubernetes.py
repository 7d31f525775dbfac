#!/usr/bin/env python3
"""Checks deploy/kubernetes/*.yaml without a cluster (kubectl's dry run needs an API server).

Structure: every document has apiVersion/kind/metadata.name; Jobs have a pod template whose
containers have a name and an image, restartPolicy Never or OnFailure, and every volumeMount names
a volume of the pod. The sharded indexing contract: the Indexed Job runs one completion per shard
(completionMode Indexed, completions == parallelism == XRS_SHARDS), the merge Job's XRS_SHARDS is
the same N. Then each container's shell command line is run with /bin/sh against a stand-in
`xray-search` that prints its arguments, for every JOB_COMPLETION_INDEX, and the arguments must be
what `index --shard K/N` and `merge` expect (the N shard folders the Indexed Job writes).
The replicas: one Deployment (apps/v1, at least 2 replicas, selector labels on its pod template)
whose container runs `serve --read-only` on the folder the merge Job writes, listening beyond
loopback on its declared container port, with readiness and liveness probes that GET
/api/health on that port, and a Service selecting its pods and forwarding to that port.

usage: check_kubernetes.py DEPLOY_KUBERNETES_DIR   (exit 77 with the reason when PyYAML is absent)
"""
import os
import pathlib
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("skipped: PyYAML is not installed (apt-get install python3-yaml)")
    sys.exit(77)


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def env_of(container):
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def run_shell(container, extra_env):
    """Runs the container's command+args with a stand-in xray-search; returns its argv lines."""
    cmd = container.get("command", []) + container.get("args", [])
    if cmd[:2] != ["/bin/sh", "-c"] or len(cmd) != 3:
        fail("%s: expected command [/bin/sh, -c] and one args string" % container["name"])
    with tempfile.TemporaryDirectory() as d:
        stub = pathlib.Path(d, "xray-search")
        stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
        stub.chmod(0o755)
        env = {"PATH": d + ":/usr/bin:/bin", **env_of(container), **extra_env}
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            fail("%s: the command failed: %s" % (container["name"], out.stderr))
        return out.stdout.splitlines()


def probe_port(probe, ports, what):
    get = (probe or {}).get("httpGet")
    if not get or get.get("path") != "/api/health":
        fail("%s must GET /api/health" % what)
    port = get.get("port")
    if port not in ports and port not in ports.values():
        fail("%s: port %s is not a port of the container %s" % (what, port, ports))
    return ports.get(port, port)


def check_pod(name, pod):
    volumes = {v["name"] for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        if not c.get("name") or not c.get("image"):
            fail("%s: a container without name or image" % name)
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                fail("%s: volumeMount %s names no volume" % (name, m["name"]))


def check_replicas(docs, merged):
    deployments = [(n, d) for n, d in docs if d["kind"] == "Deployment"]
    if len(deployments) != 1:
        fail("expected one Deployment of replicas, found %d" % len(deployments))
    dname, dep = deployments[0]
    if dep["apiVersion"] != "apps/v1":
        fail("%s: Deployment apiVersion must be apps/v1" % dname)
    if dep["spec"].get("replicas", 1) < 2:
        fail("%s: replicas must be at least 2 (that is the point)" % dname)
    labels = dep["spec"]["template"]["metadata"].get("labels", {})
    selector = dep["spec"]["selector"].get("matchLabels", {})
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        fail("%s: the selector %s does not match the pod labels %s" % (dname, selector, labels))
    pod = dep["spec"]["template"]["spec"]
    if pod.get("restartPolicy", "Always") != "Always":
        fail("%s: a Deployment's restartPolicy must be Always" % dname)
    check_pod(dname, pod)
    c = pod["containers"][0]
    ports = {p.get("name", p["containerPort"]): p["containerPort"] for p in c.get("ports", [])}
    if not ports:
        fail("%s: the container declares no port" % dname)
    ready = probe_port(c.get("readinessProbe"), ports, dname + " readinessProbe")
    probe_port(c.get("livenessProbe"), ports, dname + " livenessProbe")
    argv = run_shell(c, {})
    if argv[:1] != ["serve"] or "--read-only" not in argv or "--index" not in argv:
        fail("%s runs %s, not serve --read-only --index ..." % (dname, argv))
    if argv[argv.index("--index") + 1] != merged:
        fail("%s serves %s, the merge writes %s" % (dname, argv[argv.index("--index") + 1], merged))
    if "--port" not in argv or int(argv[argv.index("--port") + 1]) != ready:
        fail("%s: serve --port is not the probed port %s: %s" % (dname, ready, argv))
    host = argv[argv.index("--host") + 1] if "--host" in argv else "127.0.0.1"
    if host in ("127.0.0.1", "::1", "localhost"):
        fail("%s: serve listens on loopback only; probes and the Service cannot reach it" % dname)
    if "--reload-interval-ms" in argv and int(argv[argv.index("--reload-interval-ms") + 1]) < 50:
        fail("%s: --reload-interval-ms below 50" % dname)
    services = [(n, d) for n, d in docs if d["kind"] == "Service"]
    matching = [(n, d) for n, d in services
                if d["spec"].get("selector") and
                all(labels.get(k) == v for k, v in d["spec"]["selector"].items())]
    if len(matching) != 1:
        fail("expected one Service selecting the replicas' pods, found %d" % len(matching))
    sname, svc = matching[0]
    for p in svc["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        if target not in ports and target not in ports.values():
            fail("%s: targetPort %s is not a port of the replicas %s" % (sname, target, ports))
    return "Deployment %s: %d replicas serve --read-only %s behind Service %s" % (
        dep["metadata"]["name"], dep["spec"]["replicas"], merged, svc["metadata"]["name"])


def main(folder):
    docs = []
    for path in sorted(pathlib.Path(folder).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            for key in ("apiVersion", "kind", "metadata"):
                if key not in doc:
                    fail("%s: a document without %s" % (path.name, key))
            if not doc["metadata"].get("name"):
                fail("%s: metadata.name is missing" % path.name)
            docs.append((path.name, doc))
    jobs = [(n, d) for n, d in docs if d["kind"] == "Job"]
    if not jobs:
        fail("no Job in %s" % folder)
    for name, job in jobs:
        if job["apiVersion"] != "batch/v1":
            fail("%s: Job apiVersion must be batch/v1" % name)
        pod = job["spec"]["template"]["spec"]
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            fail("%s: a Job's restartPolicy must be Never or OnFailure" % name)
        check_pod(name, pod)
    indexed = [(n, d) for n, d in jobs if d["spec"].get("completionMode") == "Indexed"]
    merges = [(n, d) for n, d in jobs if d["spec"].get("completionMode") != "Indexed"]
    if len(indexed) != 1 or len(merges) != 1:
        fail("expected one Indexed Job and one merge Job, found %d and %d" % (len(indexed), len(merges)))
    iname, ijob = indexed[0]
    n = ijob["spec"]["completions"]
    icont = ijob["spec"]["template"]["spec"]["containers"][0]
    if ijob["spec"].get("parallelism") != n or int(env_of(icont).get("XRS_SHARDS", -1)) != n:
        fail("%s: completions, parallelism and XRS_SHARDS must be the same N" % iname)
    written = []
    for k in range(n):
        argv = run_shell(icont, {"JOB_COMPLETION_INDEX": str(k)})
        if argv[:1] != ["index"] or "--shard" not in argv or "--index" not in argv:
            fail("%s: index %d runs %s" % (iname, k, argv))
        if argv[argv.index("--shard") + 1] != "%d/%d" % (k, n):
            fail("%s: index %d asks for shard %s" % (iname, k, argv[argv.index("--shard") + 1]))
        written.append(argv[argv.index("--index") + 1])
    if len(set(written)) != n:
        fail("%s: shards write to the same folder: %s" % (iname, written))
    mname, mjob = merges[0]
    mcont = mjob["spec"]["template"]["spec"]["containers"][0]
    if int(env_of(mcont).get("XRS_SHARDS", -1)) != n:
        fail("%s: XRS_SHARDS must equal the Indexed Job's completions (%d)" % (mname, n))
    argv = run_shell(mcont, {})
    if argv[:1] != ["merge"] or "--index" not in argv:
        fail("%s runs %s" % (mname, argv))
    inputs = argv[1:argv.index("--index")]
    if inputs != written:
        fail("%s merges %s, the Indexed Job writes %s" % (mname, inputs, written))
    replicas = check_replicas(docs, argv[argv.index("--index") + 1])
    print("PASSED: %d documents; Indexed Job of %d shards writes %s; the merge reads them; %s"
          % (len(docs), n, ", ".join(written), replicas))


if __name__ == "__main__":
    main(sys.argv[1])

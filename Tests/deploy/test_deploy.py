"""Checks of the deployment files under deploy/ (and the repository's .dockerignore) against the
real server: every YAML and JSON file parses; the compose file, the Kubernetes manifests and the
Dockerfile refer only to things that exist; HAProxy accepts its configuration and proxies a real
`waitroomd`; every metric the Grafana dashboard queries is in the /metrics of a real server (or
of HAProxy) after a little real traffic; the probes point at routes the server answers with 200;
`systemd-analyze verify` accepts the units.

Needs the binary (WAITROOMD, default .build/debug/waitroomd) and the local Redis and PostgreSQL
(WAITROOM_REDIS_URL / WAITROOM_DATABASE_URL, as `make test` sets them), and `haproxy`.
"""
import base64
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BINARY = os.environ.get("WAITROOMD", os.path.join(ROOT, ".build", "debug", "waitroomd"))
ADMIN_TOKEN = "deploy-test-admin-token-" + uuid.uuid4().hex[:8]
SIGNING_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def deploy_files(*patterns):
    found = []
    for pattern in patterns:
        found += glob.glob(os.path.join(DEPLOY, "**", pattern), recursive=True)
    return sorted(found)


def load_yaml(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def wait_ready(url, process, log, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("not ready: %s; see %s" % (url, log))


class Node:
    """A `waitroomd serve` with one worker (so that one scrape sees every metric it made)."""

    def __init__(self, role, port):
        self.role, self.port, self.base = role, port, "http://127.0.0.1:%d" % port

    def __enter__(self):
        env = dict(os.environ)
        env.update({
            "WAITROOM_PORT": str(self.port), "WAITROOM_PROCESSES": "1", "WAITROOM_ROLE": self.role,
            "WAITROOM_ADMIN_TOKEN": ADMIN_TOKEN, "WAITROOM_SIGNING_KEY": SIGNING_KEY,
            "WAITROOM_LOG_LEVEL": "warning", "WAITROOM_PAYMENT_LATENCY_MS": "50", "WAITROOM_DRAIN_SECONDS": "1",
        })
        self.log = os.path.join(ROOT, ".local", "deploy-test-%s.log" % self.role)
        self.log_file = open(self.log, "w")
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_ready(self.base + "/readyz", self.process, self.log)
        return self

    def __exit__(self, *_):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log_file.close()

    def call(self, method, path, body=None, token=None, admin=False, key=None):
        headers = {}
        if admin:
            headers["Authorization"] = "Bearer " + ADMIN_TOKEN
        if token:
            headers["Authorization"] = "Bearer " + token
        if key:
            headers["Idempotency-Key"] = key
        status, raw, _ = http(method, self.base + path, body, headers)
        return status, (json.loads(raw) if raw else None)


class HAProxy:
    """The deployment's haproxy.cfg in front of one node, on free loopback ports."""

    def __init__(self, backend_port):
        self.port, self.stats_port = free_port(), free_port()
        self.env = dict(os.environ, WAITROOM_LB_BIND="127.0.0.1:%d" % self.port,
                        WAITROOM_LB_STATS="127.0.0.1:%d" % self.stats_port, WAITROOM_LB_MAXCONN="2000",
                        WAITROOM_EDGE1="127.0.0.1:%d" % backend_port, WAITROOM_EDGE2="127.0.0.1:%d" % backend_port)
        self.base = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        self.log = os.path.join(ROOT, ".local", "deploy-test-haproxy.log")
        self.log_file = open(self.log, "w")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", os.path.join(DEPLOY, "haproxy", "haproxy.cfg")],
                                        env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_ready(self.base + "/readyz", self.process, self.log, seconds=15)
        return self

    def __exit__(self, *_):
        self.process.kill()
        self.process.wait()
        self.log_file.close()


@pytest.fixture(scope="module")
def live():
    """An edge and a saga node with a little real traffic behind them, and HAProxy in front."""
    with Node("all", free_port()) as node, Node("saga", free_port()) as saga, HAProxy(node.port) as proxy:
        event = "dt-" + uuid.uuid4().hex[:8]
        status, _ = node.call("PUT", "/v1/admin/events/" + event, {
            "name": "deploy test", "ticketClasses": [{"id": "ga", "name": "GA", "capacity": 10, "priceCents": 100}],
            "admission": {"ratePerSecond": 50, "maxActive": 100, "sessionSeconds": 300}}, admin=True)
        assert status == 201
        status, joined, _ = json_call(proxy.base, "POST", "/v1/events/%s/queue" % event, {"userId": "u1"})
        assert status == 201, joined
        # A stream through the proxy: its first frame must come through at once (no buffering).
        stream = read_stream_start(proxy.base, event, joined["ticket"])
        token = None
        deadline = time.time() + 15
        while token is None and time.time() < deadline:
            place = node.call("GET", "/v1/events/%s/queue/%s" % (event, joined["ticket"]))[1]
            token = (place.get("admission") or {}).get("token")
            time.sleep(0.1)
        assert token, "not admitted"
        status, held = node.call("POST", "/v1/events/%s/reservations" % event, {"items": [{"ticketClassId": "ga", "quantity": 1}]},
                                 token=token, key=uuid.uuid4().hex)
        assert status == 201, held
        status, order = node.call("POST", "/v1/reservations/%s/confirm" % held["reservationId"],
                                  {"payment": {"method": "card", "simulate": "approve"}}, token=token, key=uuid.uuid4().hex)
        assert status == 202, order
        node.call("GET", "/nope")   # an error answer, so that the per-code error counter exists
        deadline = time.time() + 20
        while time.time() < deadline:
            if node.call("GET", "/v1/orders/" + order["orderId"], token=token)[1]["status"] == "completed":
                break
            time.sleep(0.2)
        yield {"node": node, "saga": saga, "proxy": proxy, "stream": stream}


def json_call(base, method, path, body):
    status, raw, headers = http(method, base + path, body)
    return status, json.loads(raw), headers


def read_stream_start(base, event, ticket):
    """Opens the stream through `base` and answers its status line, headers and first frame."""
    host, port = base.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(("GET /v1/events/%s/queue/%s/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
                   % (event, ticket)).encode())
        started, data = time.time(), b""
        while b"event: position" not in data and time.time() - started < 5:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return {"raw": data.decode(errors="replace"), "seconds": time.time() - started}


# --- files parse -------------------------------------------------------------------------------

def test_every_yaml_and_json_file_under_deploy_parses():
    yamls, jsons = deploy_files("*.yml", "*.yaml"), deploy_files("*.json")
    assert len(yamls) >= 10 and len(jsons) >= 1
    for path in yamls:
        assert load_yaml(path), path
    for path in jsons:
        with open(path) as f:
            assert json.load(f), path


# --- docker ------------------------------------------------------------------------------------

def dockerfile_instructions():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    return [line.strip().split(None, 1) for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def dockerignore_patterns():
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def ignored(path, patterns):
    result = False
    for p in patterns:
        negate = p.startswith("!")
        p = p.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts) + 1)) or \
            (p.startswith("**/") and any(fnmatch.fnmatch(x, p[3:]) for x in parts))
        if hit:
            result = not negate
    return result


def test_dockerfile_copies_only_what_exists_and_is_in_the_context():
    patterns = dockerignore_patterns()
    copies = [args for op, args in dockerfile_instructions() if op == "COPY" and "--from=" not in args]
    assert copies
    for args in copies:
        *sources, _ = shlex.split(args)
        for source in sources:
            assert glob.glob(os.path.join(ROOT, source)), "COPY %s: not in the repository" % source
            assert not ignored(source.rstrip("/"), patterns), "COPY %s: excluded by .dockerignore" % source
    # What the manifest names must be in the image's build context.
    with open(os.path.join(ROOT, "Package.swift")) as f:
        manifest = f.read()
    for path in re.findall(r'path: "([^"]+)"', manifest):
        assert any(path == s or path.startswith(s.rstrip("/") + "/") for a in copies for s in shlex.split(a)[:-1]), path
        assert not ignored(path, patterns), path


def test_dockerfile_shape():
    ins = dockerfile_instructions()
    ops = [op for op, _ in ins]
    froms = [args for op, args in ins if op == "FROM"]
    assert len(froms) == 2 and "-bookworm AS builder" in froms[0] and froms[1].startswith("debian:bookworm-slim")
    second_from = [i for i, op in enumerate(ops) if op == "FROM"][1]
    runtime = ins[second_from:]
    installs = " ".join(args for op, args in runtime if op == "RUN")
    for lib in ["libhiredis0.14", "libpq5", "libssl3", "libjemalloc2", "ca-certificates"]:
        assert lib in installs
    assert not re.search(r"\b\S+-dev\b", installs), "no development packages in the runtime image"
    builder = " ".join(args for op, args in ins[:second_from] if op == "RUN")
    for lib in ["libhiredis-dev", "libpq-dev", "libssl-dev", "libjemalloc-dev"]:
        assert lib in builder
    assert "-c release" in builder and "--product waitroomd" in builder
    rt = dict((op, args) for op, args in runtime)
    assert rt["USER"].split(":")[0] not in ("root", "0")
    assert rt["EXPOSE"] == "8080" and rt["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(rt["ENTRYPOINT"]) == ["/usr/local/bin/waitroomd"] and json.loads(rt["CMD"]) == ["serve"]
    assert "/healthz" in rt["HEALTHCHECK"]


def healthcheck_command(instruction):
    return json.loads(instruction[instruction.index("CMD") + 3:].strip())


def test_dockerfile_healthcheck_command_works_against_a_real_server(live):
    ins = dict((op, args) for op, args in dockerfile_instructions())
    command = healthcheck_command(ins["HEALTHCHECK"])
    node = live["node"]
    ok = subprocess.run(command, env=dict(os.environ, WAITROOM_PORT=str(node.port)), timeout=10)
    assert ok.returncode == 0
    # And it fails where nothing answers.
    bad = subprocess.run(command, env=dict(os.environ, WAITROOM_PORT=str(free_port())), timeout=10,
                         stderr=subprocess.DEVNULL)
    assert bad.returncode != 0


def test_compose_healthchecks_work_against_real_nodes(live):
    services = compose()["services"]
    for name, node in (("edge1", live["node"]), ("saga", live["saga"])):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD"
        command = [part.replace("/127.0.0.1/8080", "/127.0.0.1/%d" % node.port) for part in test[1:]]
        assert subprocess.run(command, timeout=10).returncode == 0, name
        dead = [part.replace("/127.0.0.1/8080", "/127.0.0.1/%d" % free_port()) for part in test[1:]]
        assert subprocess.run(dead, timeout=10, stderr=subprocess.DEVNULL).returncode != 0, name


def compose():
    return load_yaml(os.path.join(DEPLOY, "docker-compose.yml"))[0]


def test_compose_services_dependencies_and_secrets():
    c = compose()
    services = c["services"]
    for name in ["redis", "postgres", "migrate", "edge1", "edge2", "saga", "haproxy"]:
        assert name in services, name
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    for name, s in services.items():
        for dep, cond in (s.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            assert cond["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], (name, dep)
        if "build" in s:
            assert os.path.isfile(os.path.join(DEPLOY, s["build"]["context"], s["build"]["dockerfile"]))
        for volume in s.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert os.path.exists(os.path.join(DEPLOY, source)), (name, source)
    for edge in ("edge1", "edge2"):
        assert services[edge]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[edge]["environment"]["WAITROOM_ROLE"] == "edge"
        assert services["haproxy"]["depends_on"][edge]["condition"] == "service_healthy"
    assert services["saga"]["environment"]["WAITROOM_ROLE"] == "saga"
    assert services["migrate"]["command"] == ["migrate"]
    # Secrets are required variables, never values.
    with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
        text = f.read()
    for secret in ["POSTGRES_PASSWORD", "WAITROOM_ADMIN_TOKEN", "WAITROOM_SIGNING_KEY", "GRAFANA_ADMIN_PASSWORD"]:
        for value in re.findall(r"%s: (.*)" % secret, text):
            assert value.startswith("${%s:?" % secret), (secret, value)
    assert re.search(r"postgres://waitroom:\$\{POSTGRES_PASSWORD:\?", text)
    # The proxy's environment names the edge services at their port.
    lb = services["haproxy"]["environment"]
    assert {lb["WAITROOM_EDGE1"], lb["WAITROOM_EDGE2"]} == {"edge1:8080", "edge2:8080"}


def test_every_server_variable_in_the_deployment_is_read_by_the_server_and_documented():
    with open(os.path.join(ROOT, "Sources", "WaitroomApp", "ServerConfiguration.swift")) as f:
        read = set(re.findall(r'"(WAITROOM_[A-Z_]+)"', f.read()))
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    c = compose()
    used = set()
    for s in c["services"].values():
        if "image" in s and s["image"].startswith("waitroomd"):
            used |= {k for k in (s.get("environment") or {}) if k.startswith("WAITROOM_")}
    for doc in load_yaml(os.path.join(DEPLOY, "k8s", "configmap.yaml")) + load_yaml(os.path.join(DEPLOY, "k8s", "secret.example.yaml")):
        used |= set((doc.get("data") or doc.get("stringData")).keys())
    assert "WAITROOM_ROLE" in used
    for key in sorted(used):
        assert key in read, "%s is set by the deployment but not read by the server" % key
        assert "`%s`" % key in readme, "%s is not in README's configuration table" % key


# --- haproxy -----------------------------------------------------------------------------------

def test_haproxy_accepts_the_configuration():
    assert shutil.which("haproxy"), "haproxy is not installed (scripts/services.sh install)"
    result = subprocess.run(["haproxy", "-c", "-f", os.path.join(DEPLOY, "haproxy", "haproxy.cfg")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(DEPLOY, "haproxy", "haproxy.cfg")) as f:
        cfg = f.read()
    directives = "\n".join(l.strip() for l in cfg.splitlines() if l.strip() and not l.strip().startswith("#"))
    assert "balance leastconn" in directives and "option forwardfor" in directives
    assert "option http-buffer-request" not in directives.replace("no option http-buffer-request", "")
    assert re.search(r"uri /readyz", directives)
    assert int(re.search(r'maxconn "\$\{WAITROOM_LB_MAXCONN-(\d+)\}"', cfg).group(1)) >= 200000


def test_haproxy_forwards_a_stream_at_once_and_says_which_node(live):
    stream = live["stream"]
    head = stream["raw"].split("\r\n\r\n")[0].lower()
    assert " 200 " in head.splitlines()[0] and "content-type: text/event-stream" in head
    assert "x-waitroom-edge: edge" in head
    assert "event: position" in stream["raw"] and stream["seconds"] < 2


def test_haproxy_hides_the_edge_metrics_and_serves_its_own(live):
    proxy = live["proxy"]
    assert http("GET", proxy.base + "/metrics")[0] == 404
    status, body, _ = http("GET", "http://127.0.0.1:%d/metrics" % proxy.stats_port)
    assert status == 200 and b"haproxy_backend_active_servers" in body
    assert http("GET", "http://127.0.0.1:%d/stats" % proxy.stats_port)[0] == 200


# --- grafana -----------------------------------------------------------------------------------

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"}


def dashboard_metrics():
    with open(os.path.join(DEPLOY, "grafana", "waitroom-dashboard.json")) as f:
        dashboard = json.load(f)
    names = set()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
              for v in dashboard["templating"]["list"] if v["type"] == "query"]
    for expr in exprs:
        e = re.sub(r'"[^"]*"', "", expr)                          # label values
        e = re.sub(r"\{[^}]*\}", "", e)                           # label matchers
        e = re.sub(r"\b(by|without)\s*\([^)]*\)", "", e)          # grouping labels
        e = re.sub(r"\[[^\]]*\]", "", e)                          # ranges
        e = re.sub(r"label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),[^)]*\)", r"\1", e)
        for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", e):
            if name.lower() not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", name):
                names.add(name)
    return names, exprs


def exposed_names(text):
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_dashboard_metric_is_exposed_by_a_real_server(live):
    names, exprs = dashboard_metrics()
    assert len(names) >= 20, names
    exposed, texts = set(), ""
    for base in (live["node"].base, live["saga"].base, "http://127.0.0.1:%d" % live["proxy"].stats_port):
        status, body, _ = http("GET", base + "/metrics")
        assert status == 200
        exposed |= exposed_names(body.decode())
        texts += body.decode()
    missing = sorted(names - exposed)
    assert not missing, "queried by the dashboard but exposed by no server: %s" % missing
    # Labels the queries group or filter by must exist too (le, instance and job are Prometheus's).
    labels = {"le", "instance", "job"} | set(re.findall(r'([a-zA-Z_]+)="', texts))
    used = set(re.findall(r"\b([a-zA-Z_]+)\s*(?:=~|!=|=)\s*\"", " ".join(exprs)))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", " ".join(exprs)):
        used |= {l.strip() for l in group.split(",")}
    assert used - labels == set(), "labels queried but never exposed: %s" % sorted(used - labels)
    # The panels the operations issue asks for.
    joined = " ".join(exprs)
    for needle in ["waitroom_waiting", "waitroom_active", "waitroom_admitted_total", "waitroom_joins_total",
                   "waitroom_sse_streams_open", "waitroom_position_update_lag_seconds_bucket",
                   'route="/v1/events/{eventId}/reservations"', "inventory_lock_wait_seconds_bucket", "orders_status",
                   "http_requests_total", "redis_command_errors_total", "pg_query_errors_total"]:
        assert needle in joined, needle


def test_the_dashboard_route_label_is_a_real_route(live):
    status, body, _ = http("GET", live["node"].base + "/metrics")
    assert 'route="/v1/events/{eventId}/reservations",status="2xx"} 1' in body.decode().replace('method="POST",', "")


def test_orders_by_state_count_the_completed_order(live):
    deadline = time.time() + 8
    while time.time() < deadline:
        body = http("GET", live["saga"].base + "/metrics")[1].decode()
        completed = re.search(r'^orders_status\{status="completed"\} (\d+)', body, re.M)
        if completed and int(completed.group(1)) >= 1:
            return
        time.sleep(0.5)
    raise AssertionError("orders_status{status=\"completed\"} never counted the order")


# --- kubernetes --------------------------------------------------------------------------------

def k8s():
    docs = []
    for path in deploy_files("*.yaml"):
        if os.sep + "k8s" + os.sep in path:
            docs += [(os.path.basename(path), d) for d in load_yaml(path)]
    return docs


def test_k8s_kinds_and_references():
    docs = k8s()
    kinds = {}
    for _, d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    for kind in ["ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"]:
        assert kind in kinds, kind
    assert len(kinds["Deployment"]) == 2
    deployments = {d["metadata"]["name"]: d for d in kinds["Deployment"]}
    hpa = kinds["HorizontalPodAutoscaler"][0]
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["scaleTargetRef"]["name"] in deployments
    for d in deployments.values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in d["spec"]["selector"]["matchLabels"].items())
    for pdb in kinds["PodDisruptionBudget"]:
        assert any(all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                       for k, v in pdb["spec"]["selector"]["matchLabels"].items()) for d in deployments.values())
    service = kinds["Service"][0]
    edge = deployments["waitroom-edge"]
    assert all(edge["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in service["spec"]["selector"].items())
    names = {c["metadata"]["name"] for c in kinds["ConfigMap"]} | {s["metadata"]["name"] for s in kinds["Secret"]}
    for _, d in docs:
        spec = d["spec"]["template"]["spec"] if d["kind"] in ("Deployment", "Job") else None
        for c in (spec or {}).get("containers", []):
            for ref in c.get("envFrom", []):
                assert (ref.get("configMapRef") or ref.get("secretRef"))["name"] in names
    with open(os.path.join(DEPLOY, "k8s", "kustomization.yaml")) as f:
        for resource in yaml.safe_load(f)["resources"]:
            assert os.path.isfile(os.path.join(DEPLOY, "k8s", resource)), resource


def test_k8s_secret_is_a_template_without_secrets():
    with open(os.path.join(DEPLOY, "k8s", "secret.example.yaml")) as f:
        text = f.read()
    assert "kubectl" in text and "create secret" in text
    secret = yaml.safe_load(text)
    assert all("REPLACE_ME" in v for v in secret["stringData"].values())
    config = load_yaml(os.path.join(DEPLOY, "k8s", "configmap.yaml"))[0]["data"]
    assert not any(k in config for k in ("WAITROOM_ADMIN_TOKEN", "WAITROOM_SIGNING_KEY", "WAITROOM_DATABASE_URL"))


def test_k8s_edge_shutdown_timing_covers_prestop_and_drain():
    edge = next(d for _, d in k8s() if d["kind"] == "Deployment" and d["metadata"]["name"] == "waitroom-edge")
    spec = edge["spec"]["template"]["spec"]
    container = spec["containers"][0]
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    config = load_yaml(os.path.join(DEPLOY, "k8s", "configmap.yaml"))[0]["data"]
    drain = float(config["WAITROOM_DRAIN_SECONDS"])
    # preStop, then the drain, then the supervisor's 5 s before it kills stragglers.
    assert spec["terminationGracePeriodSeconds"] >= sleep + drain + 5
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    assert env["WAITROOM_ROLE"] == "edge"


def test_k8s_probes_point_at_routes_the_server_answers(live):
    role_node = {"edge": live["node"], "saga": live["saga"]}
    config = load_yaml(os.path.join(DEPLOY, "k8s", "configmap.yaml"))[0]["data"]
    checked = 0
    for _, d in k8s():
        if d["kind"] != "Deployment":
            continue
        container = d["spec"]["template"]["spec"]["containers"][0]
        role = {e["name"]: e["value"] for e in container["env"]}["WAITROOM_ROLE"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == int(config["WAITROOM_PORT"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in container:
                get = container[probe]["httpGet"]
                assert get["port"] in ports or get["port"] == ports["http"]
                status = http("GET", role_node[role].base + get["path"])[0]
                assert status == 200, "%s %s %s answers %s on a %s node" % (d["metadata"]["name"], probe, get["path"], status, role)
                checked += 1
    assert checked >= 5
    # The saga node answers probes but serves no public API.
    assert http("POST", live["saga"].base + "/v1/events/x/queue", {})[0] == 404


# --- prometheus --------------------------------------------------------------------------------

def test_prometheus_scrapes_the_compose_services():
    config = load_yaml(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))[0]
    services = compose()["services"]
    targets = []
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += static["targets"]
        for dns in job.get("dns_sd_configs", []):
            targets += ["%s:%d" % (n, dns["port"]) for n in dns["names"]]
    assert targets
    for target in targets:
        host, port = target.split(":")
        assert host in services, target
    assert {"edge1:8080", "edge2:8080", "saga:8080", "haproxy:8404"} <= set(targets)


# --- systemd -----------------------------------------------------------------------------------

def units():
    return sorted(glob.glob(os.path.join(DEPLOY, "systemd", "*.service")))


def test_systemd_units_are_complete():
    paths = units()
    assert len(paths) == 2
    for path in paths:
        with open(path) as f:
            text = f.read()
        assert "EnvironmentFile=/etc/waitroom/waitroomd.env" in text
        assert re.search(r"^ExecStart=/usr/local/bin/waitroomd serve", text, re.M)
        assert int(re.search(r"^LimitNOFILE=(\d+)", text, re.M).group(1)) >= 65536
        for option in ["NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true", "KillSignal=SIGTERM"]:
            assert option in text, (path, option)
    with open(os.path.join(DEPLOY, "systemd", "waitroomd-saga.service")) as f:
        assert "--role saga" in f.read()


def test_systemd_analyze_verify_accepts_the_units():
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed: the units were not verified")
    with tempfile.TemporaryDirectory() as tmp:
        # The units name the installed path; verify checks that it is executable, so point it at
        # the binary under test.
        for path in units():
            with open(path) as f:
                text = f.read().replace("/usr/local/bin/waitroomd", BINARY)
            with open(os.path.join(tmp, os.path.basename(path)), "w") as f:
                f.write(text)
        result = subprocess.run(["systemd-analyze", "verify"] + sorted(glob.glob(os.path.join(tmp, "*.service"))),
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr

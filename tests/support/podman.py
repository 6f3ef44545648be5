"""The rendered chart's pods run with podman, as a kubelet would run them (no cluster here).

There is no Kubernetes API server, kind or registry on this machine, and `podman kube play`
(4.3) skips most kinds and ignores probes (see docs/helm.md). So this translates the pod specs
of a `helm template` render into `podman run` calls: command/args, env (envFrom and
valueFrom resolved from the rendered ConfigMaps and Secrets), ConfigMap/Secret volumes as real
files (-v), emptyDirs as tmpfs, the security context as flags, probes polled on their declared
ports and paths, terminationGracePeriodSeconds as the stop timeout. Every container uses
`--network host` with its own loopback ports (PORT / METRICS_PORT overridden) and talks to
MariaDB on 127.0.0.1:3306 (stand-in for the chart's MySQL StatefulSet, whose image cannot be
pulled here) in a fresh database, as a fresh user whose password is the rendered Secret's.

Interface:

    chart = PodmanChart(objects)            # objects = tests.support.helm.render(...)
    chart.database                          # Database(host, port, name, user, password)
    done = chart.run_init_containers()      # Deployment's initContainers (migrate), in order:
                                            #   list[Completed(name, returncode, logs)]
    api = chart.start()                     # Deployment's first container, detached -> Instance
    api.url, api.ports["http"], api.ports["metrics"]
    api.wait_for("startup")                 # polls the probe as declared; True/False
    api.probe("readiness")                  # one probe attempt -> bool
    api.logs(); api.inspect(); api.exit_code()
    chart.stop(api)                         # preStop sleep, then SIGTERM; SIGKILL after the
                                            #   rest of terminationGracePeriodSeconds
    chart.restart(api)                      # stop, then start again on the same ports
    done = chart.run_job()                  # the CronJob's pod, to completion -> Completed
    done = chart.run_job("Pod", env={...})  # e.g. the `helm test` pod, with overrides
    chart.rerender(new_objects)             # `helm upgrade`: new settings/versions/image for the
                                            #   next start; Secrets keep their first data (the
                                            #   chart's `lookup` does the same on a live cluster)
    chart.close()                           # removes its containers, files, database and user

Building the image: build_image(tag="fastapi-example:dev") runs `make image-local` once per
test session (offline podman recipe, make/image.mk) and returns the tag; image_size(tag) -> bytes.

Options: PodmanChart(objects, image=None (use the rendered image), port_env={"http": "PORT",
"metrics": "METRICS_PORT"}, env={...} extra overrides, database=None (create one),
secrets={name: {key: value}} for Secrets made outside the chart (existingSecret)).
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import mariadb
from tests.support.api_process import free_port
from tests.support.tools import REPO, require_tool

LABEL = "fastapi-example.test"
RUN_TIMEOUT = 300  # seconds a run-to-completion container may take (migrate waits for the DB)


_built: dict[str, str] = {}


def build_image(tag: str = "fastapi-example:dev") -> str:
    """Build the image from service/Dockerfile with this machine's offline recipe (once)."""
    if tag not in _built:
        require_tool("podman")
        done = subprocess.run(
            ["make", "-s", "-C", str(REPO), "image-local", f"IMAGE={tag}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"make image-local failed:\n{done.stdout}\n{done.stderr}"
        _built[tag] = tag
    return _built[tag]


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


@dataclass
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str


@dataclass
class Completed:
    name: str
    returncode: int
    logs: str


def podman(*args: str, timeout: int = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [require_tool("podman"), *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}...: {result.stderr.strip()}")
    return result


def _pod_spec(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


@dataclass
class Instance:
    """One running container of a rendered pod."""

    name: str
    container: dict
    pod: dict
    ports: dict[str, int]
    args: list[str] = field(repr=False)
    workload: tuple[str, str | None] = ("Deployment", None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    def _probe_spec(self, kind: str) -> dict:
        return self.container[f"{kind}Probe"]

    def _probe_port(self, port) -> int:
        if isinstance(port, str):
            return self.ports[port]
        for declared in self.container.get("ports", []):
            if declared["containerPort"] == port and declared.get("name") in self.ports:
                return self.ports[declared["name"]]
        return port

    def probe(self, kind: str) -> bool:
        """One attempt of the startup, liveness or readiness probe (httpGet only)."""
        spec = self._probe_spec(kind)
        get = spec["httpGet"]
        url = f"http://127.0.0.1:{self._probe_port(get['port'])}{get.get('path', '/')}"
        try:
            response = httpx.get(url, timeout=spec.get("timeoutSeconds", 1))
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 400

    def wait_for(self, kind: str) -> bool:
        """Polls a probe as the kubelet would: initialDelaySeconds, then every periodSeconds,
        up to failureThreshold attempts (startup) or until the first success."""
        spec = self._probe_spec(kind)
        time.sleep(spec.get("initialDelaySeconds", 0))
        attempts = spec.get("failureThreshold", 3)
        if kind != "startup":
            attempts = max(attempts, 30)  # readiness/liveness right after start: allow warm-up
        for _ in range(attempts):
            if not self.running():
                return False
            if self.probe(kind):
                return True
            time.sleep(spec.get("periodSeconds", 10) if kind == "startup" else 1)
        return False

    def inspect(self) -> dict:
        return json.loads(podman("inspect", self.name).stdout)[0]

    def running(self) -> bool:
        return self.inspect()["State"]["Running"]

    def exit_code(self) -> int | None:
        state = self.inspect()["State"]
        return None if state["Running"] else state["ExitCode"]

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr


class PodmanChart:
    def __init__(
        self,
        objects: list[dict],
        image: str | None = None,
        port_env: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        database: Database | None = None,
        secrets: dict[str, dict[str, str]] | None = None,
    ):
        require_tool("podman")
        self.session = uuid.uuid4().hex[:8]
        self.image = image
        self.port_env = port_env or {"http": "PORT", "metrics": "METRICS_PORT"}
        self.extra_env = env or {}
        self.tmp = Path(tempfile.mkdtemp(prefix=f"podman-chart-{self.session}-"))
        os.chmod(self.tmp, 0o755)  # noqa: S103 (mounted files are read by uid 10001)
        self.objects: list[dict] = []
        self._secrets: dict[str, dict] = {}
        self.rerender(objects)
        for name, data in (secrets or {}).items():
            self.add_secret(name, data)
        self._own_database = database is None
        self.database = database or self._create_database()
        self._count = 0

    # -- objects ---------------------------------------------------------------------------

    def rerender(self, objects: list[dict]) -> None:
        """Take a new render (helm upgrade); Secrets keep the data they had first."""
        for obj in objects:
            if obj["kind"] == "Secret":
                self._secrets.setdefault(obj["metadata"]["name"], obj)
        self.objects = objects

    def workload(self, kind: str, name: str | None = None) -> dict:
        found = [
            o
            for o in self.objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
        ]
        assert len(found) == 1, f"expected one {kind} {name or ''} in the render, got {len(found)}"
        return found[0]

    def _config_map(self, name: str) -> dict[str, str]:
        return self.workload("ConfigMap", name).get("data") or {}

    def _secret(self, name: str) -> dict[str, str]:
        if name not in self._secrets:
            raise KeyError(f"Secret {name} is neither rendered nor given (existingSecret?)")
        obj = self._secrets[name]
        data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return data | (obj.get("stringData") or {})

    def add_secret(self, name: str, data: dict[str, str]) -> None:
        """Stand-in for a Secret created outside the chart (existingSecret)."""
        self._secrets[name] = {"kind": "Secret", "metadata": {"name": name}, "stringData": data}

    def resolve_env(self, container: dict) -> dict[str, str]:
        """The container's environment as the kubelet builds it: envFrom, then env."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                data = self._config_map(source["configMapRef"]["name"])
            else:
                data = self._secret(source["secretRef"]["name"])
            env.update({prefix + k: v for k, v in data.items()})
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = str(item["value"])
                continue
            ref = item["valueFrom"]
            if "configMapKeyRef" in ref:
                env[item["name"]] = self._config_map(ref["configMapKeyRef"]["name"])[
                    ref["configMapKeyRef"]["key"]
                ]
            elif "secretKeyRef" in ref:
                env[item["name"]] = self._secret(ref["secretKeyRef"]["name"])[
                    ref["secretKeyRef"]["key"]
                ]
            else:
                raise NotImplementedError(f"env valueFrom {list(ref)}")
        return env

    # -- database --------------------------------------------------------------------------

    def _create_database(self) -> Database:
        mariadb.require()
        api = _pod_spec(self.workload("Deployment"))["containers"][0]
        password = self.resolve_env(api).get("DB_PASSWORD", "")
        name = f"fe_podman_{self.session}"
        with mariadb.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            for host in ("%", "localhost"):
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))
                cur.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@%s", (name, host))
        return Database(mariadb.HOST, mariadb.PORT, name, name, password)

    def _drop_database(self) -> None:
        name = self.database.name
        with mariadb.connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            for host in ("%", "localhost"):
                cur.execute("DROP USER IF EXISTS %s@%s", (name, host))

    # -- podman run ------------------------------------------------------------------------

    def _volume_flags(self, pod: dict, container: dict, prefix: str) -> list[str]:
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        flags: list[str] = []
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            target = mount["mountPath"]
            if "emptyDir" in volume:
                flags += ["--tmpfs", f"{target}:rw,mode=1777"]
                continue
            if "configMap" in volume:
                data = self._config_map(volume["configMap"]["name"])
                items = volume["configMap"].get("items")
            elif "secret" in volume:
                data = self._secret(volume["secret"]["secretName"])
                items = volume["secret"].get("items")
            else:
                raise NotImplementedError(f"volume {volume}")
            folder = self.tmp / f"{prefix}-{mount['name']}"
            folder.mkdir(exist_ok=True)
            os.chmod(folder, 0o755)  # noqa: S103 (read by the container user)
            for item in items or [{"key": k, "path": k} for k in data]:
                path = folder / item["path"]
                path.write_text(data[item["key"]])
                os.chmod(path, 0o644)
            source = folder / mount["subPath"] if mount.get("subPath") else folder
            mode = "ro" if mount.get("readOnly") else "rw"
            flags += ["-v", f"{source}:{target}:{mode}"]
        return flags

    @staticmethod
    def _security_flags(pod: dict, container: dict) -> list[str]:
        context = (pod.get("securityContext") or {}) | (container.get("securityContext") or {})
        flags: list[str] = []
        if context.get("privileged"):
            raise AssertionError("privileged containers are not allowed")
        if "runAsUser" in context:
            user = str(context["runAsUser"])
            if "runAsGroup" in context:
                user += f":{context['runAsGroup']}"
            flags += ["--user", user]
        if context.get("runAsNonRoot") and context.get("runAsUser") == 0:
            raise AssertionError("runAsNonRoot with runAsUser 0")
        if "fsGroup" in context:
            flags += ["--group-add", str(context["fsGroup"])]
        if context.get("readOnlyRootFilesystem"):
            # podman would add writable tmpfs on /run, /tmp, /var/tmp; the pod spec decides.
            flags += ["--read-only", "--read-only-tmpfs=false"]
        if context.get("allowPrivilegeEscalation") is False:
            flags += ["--security-opt", "no-new-privileges"]
        capabilities = context.get("capabilities") or {}
        flags += [f"--cap-drop={c}" for c in capabilities.get("drop", [])]
        flags += [f"--cap-add={c}" for c in capabilities.get("add", [])]
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            flags += ["--security-opt", "seccomp=unconfined"]
        return flags

    def _run_args(
        self,
        pod: dict,
        container: dict,
        name: str,
        ports: dict[str, int],
        extra: dict | None = None,
    ) -> list[str]:
        env = self.resolve_env(container)
        env |= {
            "HOST": "127.0.0.1",  # host network: stay on loopback
            "DB_HOST": self.database.host,
            "DB_PORT": str(self.database.port),
            "DB_NAME": self.database.name,
            "DB_USER": self.database.user,
        }
        env |= {self.port_env[p]: str(n) for p, n in ports.items() if p in self.port_env}
        env |= self.extra_env | (extra or {})
        env_file = self.tmp / f"{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        os.chmod(env_file, 0o600)
        args = ["--name", name, "--label", f"{LABEL}={self.session}", "--network", "host"]
        args += ["--pull", "never", "--env-file", str(env_file)]
        args += self._security_flags(pod, container)
        args += self._volume_flags(pod, container, name)
        if container.get("workingDir"):
            args += ["--workdir", container["workingDir"]]
        if container.get("command"):
            args += ["--entrypoint", json.dumps(container["command"])]
        args.append(self.image or container["image"])
        args += [str(a) for a in container.get("args", [])]
        return args

    def _name(self, container: dict) -> str:
        self._count += 1
        return f"fe-{self.session}-{container['name']}-{self._count}"

    def _run_to_completion(self, pod: dict, container: dict, env: dict | None = None) -> Completed:
        name = self._name(container)
        args = self._run_args(pod, container, name, {}, env)
        try:
            result = podman("run", *args, timeout=RUN_TIMEOUT, check=False)
        finally:
            logs = podman("logs", name, check=False)
            podman("rm", "-f", name, check=False)
        return Completed(container["name"], result.returncode, logs.stdout + logs.stderr)

    def run_init_containers(self, kind: str = "Deployment", name: str | None = None):
        """The pod's initContainers in order, each to completion; stops at the first failure."""
        pod = _pod_spec(self.workload(kind, name))
        done = []
        for container in pod.get("initContainers", []):
            done.append(self._run_to_completion(pod, container))
            if done[-1].returncode != 0:
                break
        return done

    def run_job(
        self, kind: str = "CronJob", name: str | None = None, env: dict | None = None
    ) -> Completed:
        """The first container of a CronJob's (or Job's, Pod's) pod, to completion."""
        pod = _pod_spec(self.workload(kind, name))
        return self._run_to_completion(pod, pod["containers"][0], env)

    def start(
        self,
        kind: str = "Deployment",
        name: str | None = None,
        container: str | None = None,
        ports: dict[str, int] | None = None,
    ) -> Instance:
        """Start one container of the pod detached, each named port on a free loopback port."""
        pod = _pod_spec(self.workload(kind, name))
        spec = next(c for c in pod["containers"] if container in (None, c["name"]))
        if ports is None:
            ports = {p["name"]: free_port() for p in spec.get("ports", []) if "name" in p}
        cname = self._name(spec)
        args = self._run_args(pod, spec, cname, ports)
        podman("run", "-d", *args)
        return Instance(cname, spec, pod, ports, args, (kind, name))

    def stop(self, instance: Instance, pre_stop: bool = True) -> int | None:
        """Stop as the kubelet does: preStop (sleep), SIGTERM, SIGKILL when
        terminationGracePeriodSeconds is used up. Returns the container's exit code."""
        if podman("container", "exists", instance.name, check=False).returncode != 0:
            return None  # already replaced (restart) or removed
        grace = instance.pod.get("terminationGracePeriodSeconds", 30)
        started = time.monotonic()
        sleep = ((instance.container.get("lifecycle") or {}).get("preStop") or {}).get("sleep")
        if pre_stop and sleep:
            time.sleep(sleep["seconds"])
        remaining = max(1, round(grace - (time.monotonic() - started)))
        podman("stop", "-t", str(remaining), instance.name, timeout=remaining + 30)
        return instance.exit_code()

    def restart(self, instance: Instance) -> Instance:
        """Replace an instance by a new container of the current render, on the same ports."""
        self.stop(instance, pre_stop=False)
        podman("rm", "-f", instance.name, check=False)
        kind, name = instance.workload
        return self.start(kind, name, instance.container["name"], ports=instance.ports)

    def close(self) -> None:
        ids = podman("ps", "-aq", "--filter", f"label={LABEL}={self.session}", check=False)
        for cid in ids.stdout.split():
            podman("rm", "-f", "-t", "0", cid, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._own_database and mariadb.available():
            self._drop_database()

    def __enter__(self) -> "PodmanChart":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

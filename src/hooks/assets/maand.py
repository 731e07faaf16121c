"""maand hook helpers (Python standard library only).

Staged next to every hook script by maand; `import maand` and call the
functions below. API calls return a Response with `status_code`, `text`,
`json()` and `raise_for_status()`; they send the session token and the
X-ALLOCATION-ID / EVENT / COMMAND headers from the environment.
"""

import functools
import json as _json
import os
import pathlib
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "Response", "HTTPError", "env",
    # The original maand's helpers (same names, signatures, defaults, return types).
    "allocation_id", "allocation_ip", "allocation_index", "is_allocation_disabled", "command_event",
    "command_name", "job_name", "get_store_value", "put_rollout_order", "get_rollout_order",
    "put_job_variable", "list_job_keys", "delete_job_variable", "delete_job_secret", "put_job_secret",
    "list_command_demands", "acquire_semaphore", "release_semaphore", "semaphore_status",
    "get_allocation_id", "get_allocation_ip", "get_allocation_index", "get_event", "get_command", "get_job",
    "kv_get", "kv_put", "kv_put_secret", "get_demands", "get_kv_value", "find_bucket_root", "load_ssh",
    "run_ssh", "run_runner_target", "run_make_target",
    # maand's own.
    "hook_event", "hook_name", "is_one_shot", "is_single_batch", "is_first_batch", "list_hook_demands",
    "demands", "rollout_order", "kv_value_or_none",
]


class HTTPError(Exception):
    """Raised by Response.raise_for_status() for 4xx/5xx answers."""

    def __init__(self, message, response):
        super().__init__(message)
        self.response = response


class Response:
    """The answer of a runtime API call."""

    def __init__(self, status_code, text, url=""):
        self.status_code = status_code
        self.text = text
        self.url = url

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def content(self):
        return self.text.encode()

    def json(self):
        return _json.loads(self.text) if self.text else None

    def raise_for_status(self):
        if self.status_code >= 400:
            try:
                msg = self.json().get("error", self.text)
            except Exception:
                msg = self.text
            raise HTTPError("%d: %s (%s)" % (self.status_code, msg, self.url), self)
        return self

    def __repr__(self):
        return "<Response [%d]>" % self.status_code


def env(name, default=None):
    """An environment variable of this hook invocation."""
    return os.environ.get(name, default)


# -- context -----------------------------------------------------------------
# As the original: the environment's strings, None when unset.

def allocation_id():
    return os.environ.get("ALLOCATION_ID")


def allocation_ip():
    return os.environ.get("ALLOCATION_IP")


def allocation_index():
    """ALLOCATION_INDEX as the string the environment holds (as the original)."""
    return os.environ.get("ALLOCATION_INDEX")


def job_name():
    return os.environ.get("JOB")


def command_event():
    return os.environ.get("EVENT")


def command_name():
    return os.environ.get("COMMAND")


def hook_event():
    return env("EVENT", "")


def hook_name():
    return env("HOOK", env("COMMAND", ""))


def is_allocation_disabled():
    return os.environ.get("DISABLED") == "1"


def is_one_shot():
    """True in exactly one process of an invocation: batch 0, allocation 0."""
    return env("BATCH_INDEX") == "0" and env("ALLOCATION_INDEX") == "0"


def is_single_batch():
    return int(env("BATCH_COUNT", "1")) == 1


def is_first_batch():
    return int(env("BATCH_INDEX", "0")) == 0


def _ns_keyword(f):
    """Accept `ns=` (the seed's name) as well as `namespace=` (the original's)."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if "ns" in kwargs:
            if "namespace" in kwargs:
                raise TypeError("%s() got both ns and namespace" % f.__name__)
            kwargs["namespace"] = kwargs.pop("ns")
        return f(*args, **kwargs)
    return wrapper


# -- HTTP --------------------------------------------------------------------

def _call(method, path, body=None, query=None):
    host = env("HOOK_API_HOST", "127.0.0.1")
    port = env("HOOK_API_PORT", "8080")
    url = "http://%s:%s%s" % (host, port, path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {
        "X-ALLOCATION-ID": env("ALLOCATION_ID", ""),
        "EVENT": hook_event(),
        "COMMAND": env("COMMAND", hook_name()),
        "Authorization": "Bearer " + env("HOOK_API_TOKEN", ""),
    }
    data = None
    if body is not None:
        data = _json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=3700) as r:
            return Response(r.status, r.read().decode(), url)
    except urllib.error.HTTPError as e:
        return Response(e.code, e.read().decode(), url)


# -- KV ----------------------------------------------------------------------

@_ns_keyword
def get_store_value(namespace, key):
    """GET /kv: the Response (value decrypted for secrets)."""
    return _call("GET", "/kv", {"namespace": namespace, "key": key})


@_ns_keyword
def get_kv_value(namespace, key):
    """The value itself; raises HTTPError when the key does not exist (as the original)."""
    response = get_store_value(namespace, key)
    response.raise_for_status()
    return response.json()["value"]


@_ns_keyword
def kv_value_or_none(namespace, key):
    """The value itself, or None when the key does not exist."""
    r = get_store_value(namespace, key)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.json()["value"]


def put_rollout_order(order):
    """Rollout order for this job's next rollout (pre_deploy or cli): IPs, comma-separated or a list."""
    if isinstance(order, (list, tuple)):
        order = ",".join(str(ip).strip() for ip in order if str(ip).strip())
    return _call("PUT", "/kv", {"namespace": "maand/job/%s" % job_name(), "key": "rollout_order", "value": order})


def get_rollout_order():
    """GET rollout_order of this job: the Response (as the original)."""
    return get_store_value("maand/job/%s" % job_name(), "rollout_order")


def rollout_order():
    """This job's rollout order as a list of IPs ([] when unset)."""
    v = kv_value_or_none("maand/job/%s" % job_name(), "rollout_order")
    return [x for x in (v or "").split(",") if x]


def put_job_variable(key, value, ttl=0):
    body = {"namespace": "vars/job/%s" % job_name(), "key": key, "value": value if isinstance(value, str) else str(value)}
    if ttl:
        body["ttl"] = ttl
    return _call("PUT", "/kv", body)


def put_job_secret(key, value, ttl=0):
    body = {"namespace": "secrets/job/%s" % job_name(), "key": key, "value": value if isinstance(value, str) else str(value)}
    if ttl:
        body["ttl"] = ttl
    return _call("PUT", "/kv/secret", body)


def delete_job_variable(key):
    return _call("DELETE", "/kv", {"namespace": "vars/job/%s" % job_name(), "key": key})


def delete_job_secret(key):
    return _call("DELETE", "/kv/secret", {"namespace": "secrets/job/%s" % job_name(), "key": key})


@_ns_keyword
def list_job_keys(namespace=None):
    return _call("GET", "/kv/keys", {"namespace": namespace} if namespace is not None else None)


# -- demands and semaphores --------------------------------------------------

def list_command_demands():
    """GET /demands: hooks of other jobs that demand this job's hook (the Response)."""
    return _call("GET", "/demands")


def list_hook_demands():
    """GET /demands (the seed's name of list_command_demands)."""
    return list_command_demands()


def demands():
    """The demands as a list of dicts."""
    r = list_command_demands()
    r.raise_for_status()
    return r.json()


def acquire_semaphore(name, capacity=1, timeout_seconds=600):
    return _call("POST", "/semaphore/acquire", {"name": name, "capacity": capacity, "timeout_seconds": timeout_seconds})


def release_semaphore(name):
    return _call("POST", "/semaphore/release", {"name": name})


def semaphore_status(name):
    return _call("GET", "/semaphore/status", query={"name": name})


# -- the bucket and SSH to workers -------------------------------------------

def find_bucket_root():
    """The bucket root (the directory holding maand.conf): BUCKET_ROOT, else
    searched up from the working directory and from this file (as the original)."""
    given = os.environ.get("BUCKET_ROOT")
    if given and (pathlib.Path(given) / "maand.conf").is_file():
        return pathlib.Path(given).resolve()
    for start in (pathlib.Path.cwd().resolve(), pathlib.Path(__file__).resolve().parent):
        for directory in [start, *start.parents]:
            if (directory / "maand.conf").is_file():
                return directory
    raise FileNotFoundError("maand.conf not found (cwd=%s)" % pathlib.Path.cwd())


def _conf():
    root = find_bucket_root()
    values = {"ssh_user": "agent", "ssh_key": "worker.key", "ssh_port": 22, "use_sudo": True}
    try:
        import tomllib
        with open(root / "maand.conf", "rb") as f:
            values.update(tomllib.load(f))
    except (ImportError, OSError):
        pass
    return root, values


def load_ssh():
    """(ssh_user, key_path, use_sudo) from maand.conf and secrets/ (key_path a pathlib.Path)."""
    root, c = _conf()
    key = root / "secrets" / c["ssh_key"]
    if not key.is_file():
        fallback = root / c["ssh_key"]
        if fallback.is_file():
            key = fallback
        else:
            raise FileNotFoundError("SSH key not found: %s (also checked %s)" % (key, fallback))
    return c["ssh_user"], key, bool(c["use_sudo"])


def run_ssh(worker_ip, remote_cmd, *, timeout=300, check=True, connect_timeout=15, capture_output=True):
    """Run a shell command on a worker over SSH, as the original: bounded by
    `timeout` on the worker, output captured as text (result.stdout,
    result.stderr), CalledProcessError when it fails and `check`. Host keys
    are the bucket's pinned ones; no ssh chatter is added to the output.
    `capture_output=False` (maand's own) streams the output instead."""
    root, c = _conf()
    user, key, use_sudo = load_ssh()
    wrapped = "timeout %d bash -c %s" % (int(timeout), shlex.quote(remote_cmd))
    if use_sudo:
        wrapped = "sudo -n " + wrapped
    args = [
        "ssh", "-i", str(key), "-p", str(c["ssh_port"]),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=%d" % int(connect_timeout),
        # The bucket's pins, as maand's own connections use them.
        "-o", "UserKnownHostsFile=" + str(root / "secrets" / "known_hosts"),
        "-o", "StrictHostKeyChecking=accept-new", "-o", "HashKnownHosts=no",
        # No "Permanently added ..." (or other notices) in the hook's output.
        "-o", "LogLevel=ERROR",
        # No multiplexing through sockets an ssh_config may place elsewhere.
        "-o", "ControlMaster=no", "-o", "ControlPath=none",
        "%s@%s" % (user, worker_ip), wrapped,
    ]
    return subprocess.run(
        args, check=check, text=True, capture_output=capture_output, timeout=timeout + connect_timeout + 30
    )


def _bucket_id():
    return get_kv_value("maand/bucket", "bucket_id")


def _versions():
    return "CURRENT_VERSION=%s NEW_VERSION=%s" % (
        shlex.quote(env("CURRENT_VERSION", "0.0.0")), shlex.quote(env("NEW_VERSION", "0.0.0")))


def run_runner_target(target, *, worker_ip=None, job=None, timeout=300):
    """runner.py <bucket_id> <target> --jobs <job> on a worker (as deploy runs it)."""
    worker_ip = worker_ip or allocation_ip()
    job = job or job_name()
    bid = _bucket_id()
    cmd = "cd /opt/worker/%s && %s python3 bin/runner.py %s %s --jobs %s" % (
        bid, _versions(), bid, shlex.quote(target), shlex.quote(job))
    return run_ssh(worker_ip, cmd, timeout=timeout)


def run_make_target(target, *, worker_ip=None, job=None, timeout=300):
    """make -C /opt/worker/<bucket>/jobs/<job> <target> on a worker."""
    worker_ip = worker_ip or allocation_ip()
    job = job or job_name()
    cmd = "%s make -C /opt/worker/%s/jobs/%s %s" % (_versions(), _bucket_id(), shlex.quote(job), shlex.quote(target))
    return run_ssh(worker_ip, cmd, timeout=timeout)


# -- the original's aliases --------------------------------------------------

def get_allocation_id():
    return allocation_id()


def get_allocation_ip():
    return allocation_ip()


def get_allocation_index():
    return allocation_index()


def get_event():
    return command_event()


def get_command():
    return command_name()


def get_job():
    return job_name()


@_ns_keyword
def kv_get(namespace, key):
    """The Response of GET /kv (as the original; get_kv_value gives the value)."""
    return get_store_value(namespace, key)


def kv_put(key, value):
    return put_job_variable(key, value)


def kv_put_secret(key, value):
    return put_job_secret(key, value)


def get_demands():
    return list_command_demands()


# maand's own aliases.
get_job_name = job_name
kv_get_response = get_store_value
kv_delete = delete_job_variable
secret_put = put_job_secret
secret_delete = delete_job_secret

"""maand hook helpers (Python standard library only).

Staged next to every hook script by maand; `import maand` and call the
functions below. API calls return a Response with `status_code`, `text`,
`json()` and `raise_for_status()`; they send the session token and the
X-ALLOCATION-ID / EVENT / COMMAND headers from the environment.
"""

import json as _json
import os
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "Response", "HTTPError", "env",
    "allocation_id", "allocation_ip", "allocation_index", "job_name", "hook_event", "hook_name",
    "is_allocation_disabled", "is_one_shot", "is_single_batch", "is_first_batch",
    "get_store_value", "get_kv_value", "put_rollout_order", "get_rollout_order",
    "put_job_variable", "put_job_secret", "delete_job_variable", "delete_job_secret", "list_job_keys",
    "list_hook_demands", "demands", "acquire_semaphore", "release_semaphore", "semaphore_status",
    "load_ssh", "run_ssh", "run_runner_target", "run_make_target",
    "command_event", "command_name", "get_command", "list_command_demands", "get_demands", "kv_put_secret",
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

def allocation_id():
    return env("ALLOCATION_ID", "")


def allocation_ip():
    return env("ALLOCATION_IP", "")


def allocation_index():
    return int(env("ALLOCATION_INDEX", "0"))


def job_name():
    return env("JOB", "")


def hook_event():
    return env("EVENT", "")


def hook_name():
    return env("HOOK", env("COMMAND", ""))


def is_allocation_disabled():
    return env("DISABLED", "0") == "1"


def is_one_shot():
    """True in exactly one process of an invocation: batch 0, allocation 0."""
    return env("BATCH_INDEX") == "0" and env("ALLOCATION_INDEX") == "0"


def is_single_batch():
    return int(env("BATCH_COUNT", "1")) == 1


def is_first_batch():
    return int(env("BATCH_INDEX", "0")) == 0


# -- HTTP --------------------------------------------------------------------

def _call(method, path, body=None, query=None):
    host = env("HOOK_API_HOST", "127.0.0.1")
    port = env("HOOK_API_PORT", "8080")
    url = "http://%s:%s%s" % (host, port, path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {
        "X-ALLOCATION-ID": allocation_id(),
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

def get_store_value(namespace, key):
    """GET /kv: the Response (value decrypted for secrets)."""
    return _call("GET", "/kv", {"namespace": namespace, "key": key})


def get_kv_value(namespace, key):
    """The value itself, or None when the key does not exist."""
    r = get_store_value(namespace, key)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.json()["value"]


def put_rollout_order(order):
    """Rollout order for this job's next rollout (pre_deploy or cli)."""
    value = ",".join(order) if isinstance(order, (list, tuple)) else str(order)
    return _call("PUT", "/kv", {"namespace": "maand/job/" + job_name(), "key": "rollout_order", "value": value})


def get_rollout_order():
    v = get_kv_value("maand/job/" + job_name(), "rollout_order")
    return [x for x in (v or "").split(",") if x]


def put_job_variable(key, value, ttl=0):
    return _call("PUT", "/kv", {"namespace": "vars/job/" + job_name(), "key": key, "value": str(value), "ttl": ttl})


def put_job_secret(key, value, ttl=0):
    return _call("PUT", "/kv/secret", {"namespace": "secrets/job/" + job_name(), "key": key, "value": str(value), "ttl": ttl})


def delete_job_variable(key):
    return _call("DELETE", "/kv", {"namespace": "vars/job/" + job_name(), "key": key})


def delete_job_secret(key):
    return _call("DELETE", "/kv/secret", {"namespace": "secrets/job/" + job_name(), "key": key})


def list_job_keys(namespace=None):
    return _call("GET", "/kv/keys", {"namespace": namespace} if namespace else None)


# -- demands and semaphores --------------------------------------------------

def list_hook_demands():
    """GET /demands: hooks of other jobs that demand this job's hook."""
    return _call("GET", "/demands")


def demands():
    """The demands as a list of dicts."""
    r = list_hook_demands()
    r.raise_for_status()
    return r.json()


def acquire_semaphore(name, capacity=1, timeout_seconds=600):
    return _call("POST", "/semaphore/acquire", {"name": name, "capacity": capacity, "timeout_seconds": timeout_seconds})


def release_semaphore(name):
    return _call("POST", "/semaphore/release", {"name": name})


def semaphore_status(name):
    return _call("GET", "/semaphore/status", query={"name": name})


# -- SSH to workers ----------------------------------------------------------

def _conf():
    root = env("BUCKET_ROOT", os.getcwd())
    values = {"ssh_user": "agent", "ssh_key": "worker.key", "ssh_port": 22, "use_sudo": True}
    try:
        import tomllib
        with open(os.path.join(root, "maand.conf"), "rb") as f:
            values.update(tomllib.load(f))
    except (ImportError, OSError):
        pass
    return root, values


def load_ssh():
    """(user, key_path, use_sudo) from maand.conf."""
    root, c = _conf()
    return c["ssh_user"], os.path.join(root, "secrets", c["ssh_key"]), bool(c["use_sudo"])


def run_ssh(worker_ip, remote_cmd, check=True, capture_output=False, timeout=None):
    """Run a shell command on a worker over SSH (known hosts pinned in the bucket)."""
    root, c = _conf()
    user, key, use_sudo = load_ssh()
    cmd = remote_cmd if not use_sudo else "sudo -n bash -c " + shlex.quote(remote_cmd)
    args = [
        "ssh", "-i", key, "-p", str(c["ssh_port"]),
        "-o", "BatchMode=yes",
        "-o", "UserKnownHostsFile=" + os.path.join(root, "secrets", "known_hosts"),
        "-o", "StrictHostKeyChecking=accept-new",
        # No multiplexing through sockets an ssh_config may place elsewhere.
        "-o", "ControlMaster=no", "-o", "ControlPath=none",
        "%s@%s" % (user, worker_ip), cmd,
    ]
    return subprocess.run(args, check=check, capture_output=capture_output, text=True, timeout=timeout)


def _bucket_id():
    return get_kv_value("maand/bucket", "bucket_id")


def _versions():
    return "CURRENT_VERSION=%s NEW_VERSION=%s" % (
        shlex.quote(env("CURRENT_VERSION", "0.0.0")), shlex.quote(env("NEW_VERSION", "0.0.0")))


def run_runner_target(target, worker_ip=None, **kw):
    """runner.py <bucket_id> <target> --jobs <job> on the worker (as deploy does)."""
    bid = _bucket_id()
    cmd = "cd /opt/worker/%s && %s python3 bin/runner.py %s %s --jobs %s" % (
        bid, _versions(), bid, shlex.quote(target), shlex.quote(job_name()))
    return run_ssh(worker_ip or allocation_ip(), cmd, **kw)


def run_make_target(target, worker_ip=None, **kw):
    """make -C /opt/worker/<bucket>/jobs/<job> <target> on the worker."""
    cmd = "%s make -C /opt/worker/%s/jobs/%s %s" % (_versions(), _bucket_id(), shlex.quote(job_name()), shlex.quote(target))
    return run_ssh(worker_ip or allocation_ip(), cmd, **kw)


# Aliases.
get_allocation_id = allocation_id
get_allocation_ip = allocation_ip
get_allocation_index = allocation_index
get_job = job_name
get_job_name = job_name
get_event = hook_event
kv_get = get_kv_value
kv_get_response = get_store_value
kv_put = put_job_variable
kv_delete = delete_job_variable
secret_put = put_job_secret
secret_delete = delete_job_secret

# The original maand's names (its hooks were "job commands").
command_event = hook_event
command_name = hook_name
get_command = hook_name
list_command_demands = list_hook_demands
get_demands = list_hook_demands
kv_put_secret = put_job_secret

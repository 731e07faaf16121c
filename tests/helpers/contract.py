"""The original maand's maand.py helpers, checked against ours: every name,
its signature (parameter names, kinds, defaults) and the type it returns
when called from a hook. The table is derived from the original's
jobcommand/maand.py and documented in docs/hooks.md ("Compatibility with
the original's helpers"). maand's extra parameters must come after the
original's and have defaults, so every original call still works.

Runs as a hook; writes <BUCKET_ROOT>/contract-<ip>.json. The SSH helpers
are called only when the hook runs on a real worker (post_deploy).
"""

import inspect
import json
import os
import pathlib
import subprocess

import maand

R = maand.Response
CP = subprocess.CompletedProcess
P = pathlib.Path

# name, the original's signature, the return type.
TABLE = [
    ("allocation_id", "()", str),
    ("allocation_ip", "()", str),
    ("allocation_index", "()", str),
    ("is_allocation_disabled", "()", bool),
    ("command_event", "()", str),
    ("command_name", "()", str),
    ("job_name", "()", str),
    ("get_store_value", "(namespace, key)", R),
    ("put_rollout_order", "(order)", R),
    ("get_rollout_order", "()", R),
    ("put_job_variable", "(key, value)", R),
    ("list_job_keys", "(namespace=None)", R),
    ("delete_job_variable", "(key)", R),
    ("delete_job_secret", "(key)", R),
    ("put_job_secret", "(key, value)", R),
    ("list_command_demands", "()", R),
    ("acquire_semaphore", "(name, capacity=1, timeout_seconds=600)", R),
    ("release_semaphore", "(name)", R),
    ("semaphore_status", "(name)", R),
    ("get_allocation_id", "()", str),
    ("get_allocation_ip", "()", str),
    ("get_allocation_index", "()", str),
    ("get_event", "()", str),
    ("get_command", "()", str),
    ("get_job", "()", str),
    ("kv_get", "(namespace, key)", R),
    ("kv_put", "(key, value)", R),
    ("kv_put_secret", "(key, value)", R),
    ("get_demands", "()", R),
    ("get_kv_value", "(namespace, key)", str),
    ("find_bucket_root", "()", P),
    ("load_ssh", "()", tuple),
    ("run_ssh", "(worker_ip, remote_cmd, *, timeout=300, check=True, connect_timeout=15)", CP),
    ("run_runner_target", "(target, *, worker_ip=None, job=None, timeout=300)", CP),
    ("run_make_target", "(target, *, worker_ip=None, job=None, timeout=300)", CP),
]

SSH = {"run_ssh", "run_runner_target", "run_make_target"}
on_worker = maand.command_event() == "post_deploy"
ip = maand.allocation_ip()

CALLS = {
    "get_store_value": ("maand/bucket", "bucket_id"),
    "put_rollout_order": ([ip],),
    "put_job_variable": ("contract", "1"),
    "delete_job_variable": ("contract",),
    "put_job_secret": ("contract_s", "s"),
    "delete_job_secret": ("contract_s",),
    "acquire_semaphore": ("contract", 1, 30),
    "release_semaphore": ("contract",),
    "semaphore_status": ("contract",),
    "kv_get": ("maand/bucket", "bucket_id"),
    "kv_put": ("contract", "2"),
    "kv_put_secret": ("contract_s", "t"),
    "get_kv_value": ("maand/bucket", "bucket_id"),
    "run_ssh": (ip, "echo hello-from-$(hostname -I 2>/dev/null | wc -w)-worker"),
    "run_runner_target": ("status",),
    "run_make_target": ("status",),
}

problems = []
results = {}


def params(sig):
    scope = {}
    exec("def f%s: pass" % sig, scope)
    return list(inspect.signature(scope["f"]).parameters.values())


for name, sig, rtype in TABLE:
    f = getattr(maand, name, None)
    if not callable(f):
        problems.append("%s: missing" % name)
        continue
    want = params(sig)
    have = list(inspect.signature(f).parameters.values())
    for i, w in enumerate(want):
        h = have[i] if i < len(have) else None
        if h is None or (h.name, h.kind, h.default) != (w.name, w.kind, w.default):
            problems.append("%s: parameter %d is %s, the original has %s" % (name, i, h, w))
    for h in have[len(want):]:
        if h.default is inspect.Parameter.empty:
            problems.append("%s: extra parameter %s has no default" % (name, h))
    if name in SSH and not on_worker:
        continue
    if name in ("put_rollout_order",) and maand.command_event() not in ("cli", "pre_deploy"):
        continue
    if name in ("put_job_variable", "delete_job_variable", "put_job_secret", "delete_job_secret", "kv_put",
                "kv_put_secret") and maand.command_event() == "health_check":
        continue
    try:
        value = f(*CALLS.get(name, ()))
    except Exception as e:  # a failure is a problem to report, not a crash
        problems.append("%s: raised %r" % (name, e))
        continue
    if not isinstance(value, rtype):
        problems.append("%s returned %s, the original returns %s" % (name, type(value).__name__, rtype.__name__))
    if isinstance(value, R):
        results[name] = value.status_code
    elif isinstance(value, CP):
        results[name] = [value.returncode, value.stdout, value.stderr]
    elif isinstance(value, tuple):
        results[name] = [str(x) for x in value]
    elif isinstance(value, bool):
        results[name] = value
    else:
        results[name] = str(value)

# Behaviours the original's callers rely on.
try:
    maand.get_kv_value("vars/job/" + maand.job_name(), "no-such-key")
    problems.append("get_kv_value did not raise on a missing key")
except maand.HTTPError as e:
    results["get_kv_value_missing"] = e.response.status_code
results["ns_keyword"] = [maand.get_store_value(ns="maand/bucket", key="bucket_id").status_code,
                         maand.list_job_keys(ns="vars/job/" + maand.job_name()).status_code]
if on_worker:
    try:
        maand.run_ssh(ip, "exit 3")
        problems.append("run_ssh(check=True) did not raise on exit 3")
    except subprocess.CalledProcessError as e:
        results["run_ssh_check"] = e.returncode
    results["run_ssh_timeout"] = maand.run_ssh(ip, "sleep 5", timeout=1, check=False).returncode

root = os.environ["BUCKET_ROOT"]
with open(os.path.join(root, "contract-%s.json" % ip), "w") as out:
    json.dump({"problems": problems, "results": results, "checked": len(TABLE)}, out, indent=1)

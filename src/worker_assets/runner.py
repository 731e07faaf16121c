#!/usr/bin/env python3
"""maand's lifecycle runner on a worker (the original maand's interface).

    python3 bin/runner.py <bucket_id> <target> [--jobs <job>[,<job>...]]

Runs `make -s -C jobs/<job> <target>` for each job, from the bucket
directory this script lives in (/opt/worker/<bucket_id>), passing
CURRENT_VERSION and NEW_VERSION through, and exits with the first non-zero
make status (0 when every job succeeded).

Without --jobs the jobs come from jobs.json: `start` and `restart` run every
enabled job (the original's reboot recovery: `runner.py <bucket> start` from
cron @reboot or a systemd unit), any other target every job listed.
"""

import json
import os
import re
import subprocess
import sys

TARGET = re.compile(r"^[A-Za-z0-9_.-]+$")
USAGE = "usage: runner.py <bucket_id> <target> [--jobs <job>[,<job>...]]"


def listed_jobs(root):
    """(job, disabled) pairs of jobs.json: the original's list of
    {"job", "disabled"}, or an older maand's {"jobs": [names]}."""
    with open(os.path.join(root, "jobs.json")) as f:
        data = json.load(f)
    if isinstance(data, dict):
        return [(j, 0) for j in data.get("jobs", [])]
    return [(j.get("job"), int(j.get("disabled", 0) or 0)) for j in data if j.get("job")]


def main(argv):
    args = argv[1:]
    jobs = None
    if "--jobs" in args:
        i = args.index("--jobs")
        if i + 1 >= len(args):
            print(USAGE, file=sys.stderr)
            return 2
        jobs = [j for j in args[i + 1].split(",") if j]
        args = args[:i] + args[i + 2:]
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    bucket_id, target = args
    if not TARGET.match(target):
        print("runner.py: unsafe make target %r" % target, file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.basename(root) != bucket_id:
        print("runner.py: this is bucket %s, not %s" % (os.path.basename(root), bucket_id), file=sys.stderr)
        return 2
    if jobs is None:
        try:
            listed = listed_jobs(root)
        except (OSError, ValueError) as e:
            print("runner.py: cannot read jobs.json: %s" % e, file=sys.stderr)
            return 2
        every = target not in ("start", "restart")
        jobs = [j for j, disabled in listed if every or not disabled]
        # A job listed but not shipped (yet) is skipped, as the original does.
        jobs = [j for j in jobs if os.path.isdir(os.path.join(root, "jobs", j))]
    status = 0
    for job in jobs:
        job_dir = os.path.join(root, "jobs", job)
        if not os.path.isdir(job_dir):
            print("runner.py: job %s is not deployed here" % job, file=sys.stderr)
            return 2
        for d in ("data", "logs"):
            os.makedirs(os.path.join(job_dir, d), exist_ok=True)
        rc = subprocess.call(["make", "-s", "-C", job_dir, target], env=os.environ.copy())
        if rc != 0 and status == 0:
            status = rc
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))

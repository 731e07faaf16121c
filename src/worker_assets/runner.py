#!/usr/bin/env python3
"""maand's lifecycle runner on a worker.

    python3 bin/runner.py <bucket_id> <target> --jobs <job>[,<job>...]

Runs `make -s -C jobs/<job> <target>` for each job, from the bucket
directory this script lives in (/opt/worker/<bucket_id>), passing
CURRENT_VERSION and NEW_VERSION through, and exits with the first non-zero
make status (0 when every job succeeded).
"""

import os
import re
import subprocess
import sys

TARGET = re.compile(r"^[A-Za-z0-9_.-]+$")


def main(argv):
    if len(argv) < 4 or argv[3] != "--jobs" or len(argv) < 5:
        print("usage: runner.py <bucket_id> <target> --jobs <job>[,<job>...]", file=sys.stderr)
        return 2
    bucket_id, target, jobs = argv[1], argv[2], [j for j in argv[4].split(",") if j]
    if not TARGET.match(target):
        print("runner.py: unsafe make target %r" % target, file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.basename(root) != bucket_id:
        print("runner.py: this is bucket %s, not %s" % (os.path.basename(root), bucket_id), file=sys.stderr)
        return 2
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

#!/usr/bin/env python3
"""maand's worker probe.

    python3 bin/worker.py
        prints worker.json and the deployed jobs as JSON.
    python3 bin/worker.py <bucket_id> <worker_id> <update_seq>
        the original maand's check: exit 0 when worker.json matches, 1 when
        the bucket id differs, 2 the worker id (or worker.json is
        unreadable), 3 the update_seq.
"""

import json
import os
import sys


def check(root, bucket_id, worker_id, update_seq):
    try:
        with open(os.path.join(root, "worker.json")) as f:
            data = json.load(f)
        if data.get("bucket_id") != bucket_id:
            return 1
        if data.get("worker_id") != worker_id:
            return 2
        if data.get("update_seq") != int(update_seq):
            return 3
        return 0
    except (OSError, ValueError) as e:
        print("Error: %s" % e)
        return 2


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) == 4:
        return check(root, argv[1], argv[2], argv[3])
    if len(argv) != 1:
        print("usage: worker.py [<bucket_id> <worker_id> <update_seq>]")
        return 3
    try:
        with open(os.path.join(root, "worker.json")) as f:
            worker = json.load(f)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 1
    jobs_dir = os.path.join(root, "jobs")
    worker["deployed_jobs"] = sorted(os.listdir(jobs_dir)) if os.path.isdir(jobs_dir) else []
    print(json.dumps(worker, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

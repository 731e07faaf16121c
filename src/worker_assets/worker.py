#!/usr/bin/env python3
"""maand's worker probe: prints worker.json and the deployed jobs as JSON.

    python3 bin/worker.py
"""

import json
import os
import sys


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
    sys.exit(main())

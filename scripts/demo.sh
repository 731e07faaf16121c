#!/usr/bin/env bash
# maand's demo on a new machine (as root): installs what it needs, builds
# maand, starts three loopback SSH workers, creates a bucket with a web job
# (Makefile lifecycle, a template, a pre_deploy hook, a tcp health check),
# builds and deploys it, changes it and deploys again as a rolling upgrade,
# shows the deployments and the audit of the last deploy, then stops the
# workers. Set MAAND_DEMO_DIR to keep the bucket somewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v rsync >/dev/null || need+=(rsync)
command -v python3 >/dev/null || need+=(python3)
command -v make >/dev/null || need+=(make)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --workspace --quiet
bin="$PWD/target/release"
demo="${MAAND_DEMO_DIR:-$(mktemp -d /tmp/maand-demo.XXXXXX)}"
workers="$demo/.workers"
mkdir -p "$demo"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
maand() { "$bin/maand" --bucket "$demo" "$@"; }
journal() { "$bin/maand-journal" --bucket "$demo" "$@"; }

bash scripts/workers.sh start 3 "$workers"
trap 'bash scripts/workers.sh stop "$workers"' EXIT

step maand init
cp "$workers/client.key" "$demo/secrets/worker.key"
sed -i -e 's/^ssh_user = .*/ssh_user = "root"/' -e 's/^ssh_port = .*/ssh_port = 2222/' \
       -e 's/^use_sudo = .*/use_sudo = false/' -e 's/^hook_api_port = .*/hook_api_port = 0/' "$demo/maand.conf"
python3 - "$workers/ips" "$demo/workspace/workers.json" <<'PY'
import json, sys
ips = open(sys.argv[1]).read().split()
json.dump([{"host": ip, "labels": ["web"], "tags": {"zone": "z%d" % i}} for i, ip in enumerate(ips)], open(sys.argv[2], "w"), indent=2)
PY
step maand job create web --selectors web
job="$demo/workspace/jobs/web"
cat > "$job/manifest.json" <<'JSON'
{
  "version": "1.0.0",
  "selectors": ["web"],
  "max_concurrent_upgrades": 1,
  "resources": {"ports": {"web_port": {}}},
  "hooks": {"hook_announce": {"executed_on": ["pre_deploy"]}},
  "health_check": {"checks": [{"type": "tcp", "port": "web_port"}], "timeout_seconds": 2}
}
JSON
cat > "$job/Makefile" <<'MK'
include config.env
start:
	@mkdir -p data logs
	@nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid
stop:
	@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi
restart: stop start
MK
printf 'IP={{ .WorkerIP }}\nPORT={{ get "maand/bucket" "web_port" }}\nGREETING={{ get "vars/job/web" "greeting" }}\n' > "$job/config.env.tpl"
echo '<h1>hello from maand, v1</h1>' > "$job/index.html"
mkdir -p "$job/_hooks"
cat > "$job/_hooks/hook_announce.py" <<'PY'
import maand
if maand.is_one_shot():
    maand.put_job_variable("greeting", "deployed by a pre_deploy hook").raise_for_status()
    print("pre_deploy on %s: batch %s of %s" % (maand.allocation_ip(), maand.env("BATCH_INDEX"), maand.env("BATCH_COUNT")))
PY

step maand build
step maand deploy
port=$(maand cat kv get maand/bucket web_port)
ip=$(head -1 "$workers/ips")
printf '\n$ curl http://%s:%s/\n' "$ip" "$port"
python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode().strip())" "http://$ip:$port/"

echo '<h1>hello from maand, v2</h1>' > "$job/index.html"
step maand deploy --build
step maand cat deployments
step journal audit "$(journal sessions --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')"
step journal replay --check
step journal verify
printf '\ndemo bucket: %s\n' "$demo"

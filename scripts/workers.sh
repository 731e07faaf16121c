#!/usr/bin/env bash
# Loopback SSH workers for demos (the tests use tests/common/workers.rs):
# each an sshd bound to its own 127.77.0.x address, in its own mount
# namespace with a private /opt/worker. Needs root, openssh-server, rsync.
#
#   scripts/workers.sh start N DIR   # writes DIR/client.key, DIR/ips
#   scripts/workers.sh stop DIR
set -euo pipefail
PORT=2222

start() {
  local n=$1 dir=$2
  mkdir -p "$dir" /run/sshd /opt/worker
  ssh-keygen -q -t ed25519 -N "" -f "$dir/client.key" <<<y >/dev/null 2>&1 || true
  cp "$dir/client.key.pub" "$dir/authorized_keys"
  : > "$dir/ips"
  for i in $(seq 1 "$n"); do
    local ip="127.77.0.$((i + 1))" d="$dir/w$i"
    mkdir -p "$d/opt"
    [ -f "$d/host.key" ] || ssh-keygen -q -t ed25519 -N "" -f "$d/host.key"
    cat > "$d/sshd_config" <<CONF
ListenAddress $ip
Port $PORT
HostKey $d/host.key
PidFile $d/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
CONF
    cat > "$d/start.sh" <<SH
mount --bind $d/opt /opt/worker
[ -f /etc/skel/.bashrc ] && [ -f /root/.bashrc ] && mount --bind /etc/skel/.bashrc /root/.bashrc || true
[ -f /etc/skel/.profile ] && [ -f /root/.profile ] && mount --bind /etc/skel/.profile /root/.profile || true
exec /usr/sbin/sshd -D -e -f $d/sshd_config
SH
    setsid unshare -m --propagation private bash "$d/start.sh" > "$d/sshd.log" 2>&1 < /dev/null &
    echo "$!" > "$d/unshare.pid"
    echo "$ip" >> "$dir/ips"
  done
  for ip in $(cat "$dir/ips"); do
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/$ip/$PORT") 2>/dev/null && break
      sleep 0.1
    done
  done
  echo "started $n workers on port $PORT: $(tr '\n' ' ' < "$dir/ips")"
}

stop() {
  local dir=$1
  for p in "$dir"/w*/unshare.pid; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  pkill -f -- "--bind 127.77.0." 2>/dev/null || true
  echo "stopped workers of $dir"
}

case "${1:-}" in
  start) start "${2:?N}" "${3:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) echo "usage: $0 start N DIR | stop DIR" >&2; exit 2 ;;
esac

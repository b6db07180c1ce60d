#!/bin/bash
# Two fake hosts for libgat's tests (testbed.md, "Fake hosts"): network namespaces gat-h1, gat-h2
# on the bridge br-gat (root namespace 10.203.0.254/24, hK = 10.203.0.K), each with its own
# hostname (hK, unshare --uts) and its own sshd on port 22 with its own host key.
#
#   hosts.sh start DIR   (first removes any leftover of a crashed run: same fixed names)
#   hosts.sh stop DIR    kill every process in the namespaces, delete them and the bridge; idempotent
#
# DIR gets known_hosts (10.203.0.1 and 10.203.0.2) and ssh_config for the client (user jobtest).
# DIR and its parents must be traversable by jobtest. Use a DIR of its own (not sshd.sh's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

BRIDGE=br-gat
HOSTS=(1 2)
ns() { echo "gat-h$1"; }

teardown() {
  local k n pids
  for k in "${HOSTS[@]}"; do
    n=$(ns "$k")
    if ip netns list 2>/dev/null | grep -qw "$n"; then
      # Everything in the namespace was started by this script or by tests through its sshd.
      pids=$(ip netns pids "$n" 2>/dev/null || true)
      # shellcheck disable=SC2086
      [ -z "$pids" ] || tb_kill_pids $pids || true
      ip netns del "$n" 2>/dev/null || true
    fi
    ip link del "veth-$n" 2>/dev/null || true  # normally gone with the namespace
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

start() {
  local d=$1 k n addr
  tb_need_root; tb_need_sshd
  command -v ip >/dev/null || tb_die "ip (iproute2) is missing: run '$here/sshd.sh install'"
  mkdir -p "$d"; d=$(cd "$d" && pwd); chmod 0755 "$d"
  teardown
  tb_user
  tb_client_key "$d"
  ip link add "$BRIDGE" type bridge
  ip addr add 10.203.0.254/24 dev "$BRIDGE"
  ip link set "$BRIDGE" up  # the root namespace's route to the fake hosts
  : >"$d/known_hosts.tmp"
  for k in "${HOSTS[@]}"; do
    n=$(ns "$k"); addr=10.203.0.$k
    tb_host_key "$d/hostkey-h$k"
    ip netns add "$n"
    ip link add "veth-$n" type veth peer name eth0 netns "$n"
    ip link set "veth-$n" master "$BRIDGE" up
    ip -n "$n" addr add "$addr/24" dev eth0
    ip -n "$n" link set eth0 up
    ip -n "$n" link set lo up
    tb_sshd_config 22 "$addr" "$d/sshd-h$k.pid" "$d/hostkey-h$k" "$d/authorized_keys" >"$d/sshd_config-h$k"
    rm -f "$d/sshd-h$k.pid"
    /usr/sbin/sshd -t -f "$d/sshd_config-h$k" || tb_die "sshd -t rejected $d/sshd_config-h$k"
    ip netns exec "$n" unshare --uts sh -c \
      'hostname "$1" && exec /usr/sbin/sshd -f "$2" -E "$3"' sh "h$k" "$d/sshd_config-h$k" "$d/sshd-h$k.log" ||
      tb_die "sshd for h$k did not start: $(tail -n 3 "$d/sshd-h$k.log" 2>/dev/null)"
    printf '%s %s\n' "$addr" "$(cut -d' ' -f1,2 "$d/hostkey-h$k.pub")" >>"$d/known_hosts.tmp"
  done
  for k in "${HOSTS[@]}"; do
    tb_wait_pidfile "$d/sshd-h$k.pid" ||
      tb_die "sshd of h$k wrote no pid file within 20 s: $(tail -n 5 "$d/sshd-h$k.log" 2>/dev/null)"
  done
  chmod 600 "$d/known_hosts.tmp"; mv -f "$d/known_hosts.tmp" "$d/known_hosts"
  tb_ssh_config "$d" >"$d/ssh_config"
  chmod 644 "$d/ssh_config"
  echo "fake hosts h1=10.203.0.1 h2=10.203.0.2 (sshd port 22)"
}

stop() {
  local d=$1 k
  tb_need_root
  for k in "${HOSTS[@]}"; do
    [ -d "$d" ] && tb_stop_sshd "$d/sshd-h$k.pid"
  done
  teardown
}

case "${1:-}" in
  start) [ $# -eq 2 ] || tb_die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || tb_die "usage: $0 stop DIR"; stop "$2" ;;
  *) tb_die "usage: $0 start DIR | stop DIR" ;;
esac

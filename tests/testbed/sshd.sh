#!/bin/bash
# A private sshd on 127.0.0.1 for libgat's tests (testbed.md, "OpenSSH").
#
#   sshd.sh install     apt-get the packages (openssh-server, openssh-client, iproute2)
#   sshd.sh start DIR   user jobtest, keys, sshd_config, sshd on 127.0.0.1:PORT (PORT in DIR/port),
#                       DIR/known_hosts (the host key: host keys ARE checked), DIR/ssh_config
#   sshd.sh stop DIR    stop the sshd and every connection it serves; files stay, so a later
#                       start brings the same host back (same port, same host key)
#
# DIR and its parents must be traversable by jobtest (sshd reads DIR/authorized_keys as jobtest).
# The client key and known_hosts are root-only. Use: ssh -F DIR/ssh_config -o Port=$(cat DIR/port) 127.0.0.1
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

start() {
  local d=$1 port tries
  tb_need_root; tb_need_sshd
  mkdir -p "$d"; d=$(cd "$d" && pwd); chmod 0755 "$d"
  if [ -s "$d/sshd.pid" ] && tb_alive "$(cat "$d/sshd.pid")"; then
    echo "sshd already running on port $(cat "$d/port")"; return 0
  fi
  rm -f "$d/sshd.pid"
  tb_user
  tb_host_key "$d/hostkey"
  tb_client_key "$d"
  for tries in $(seq 10); do
    if [ -s "$d/port" ]; then
      port=$(cat "$d/port")  # a restart keeps the port, so known_hosts stays valid
    else
      port=$(free_port)
    fi
    # DIR/max_sessions, when a test wrote it: sshd's MaxSessions (channels per connection).
    [ -s "$d/max_sessions" ] && TB_MAX_SESSIONS=$(cat "$d/max_sessions")
    TB_MAX_SESSIONS=${TB_MAX_SESSIONS:-100} \
      tb_sshd_config "$port" 127.0.0.1 "$d/sshd.pid" "$d/hostkey" "$d/authorized_keys" >"$d/sshd_config"
    /usr/sbin/sshd -t -f "$d/sshd_config" || tb_die "sshd -t rejected $d/sshd_config"
    : >"$d/sshd.log"  # what the tail below shows is about this try
    # sshd may return 0 and fail to bind afterwards: the pid file tells that it listens.
    if /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" && tb_wait_pidfile "$d/sshd.pid" "$d/sshd.log"; then
      [ -s "$d/port" ] || echo "$port" >"$d/port"
      break
    fi
    # Port taken meanwhile: pick another unless the port is fixed by an earlier start.
    [ -s "$d/port" ] && tb_die "sshd could not start on port $port: $(tail -n 3 "$d/sshd.log")"
    port=
  done
  [ -n "${port:-}" ] || tb_die "sshd could not start: $(tail -n 3 "$d/sshd.log")"
  # Host keys are checked: the client trusts exactly this key for [127.0.0.1]:PORT.
  (umask 077; printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$d/hostkey.pub")" >"$d/known_hosts")
  chmod 600 "$d/known_hosts"
  { printf 'Host 127.0.0.1\n  Port %s\n' "$port"; tb_ssh_config "$d"; } >"$d/ssh_config"
  chmod 644 "$d/ssh_config"
  echo "sshd on 127.0.0.1:$port"
}

free_port() {
  local used p i
  used=$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  for i in $(seq 50); do
    # Below the ephemeral range (32768 up): a port an outgoing connection holds cannot be bound.
    p=$((20000 + RANDOM % 12000))
    grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
  done
  tb_die "no free port found"
}

stop() {
  local d=$1
  [ -d "$d" ] || return 0
  tb_stop_sshd "$d/sshd.pid"
}

case "${1:-}" in
  install) tb_need_root; tb_install ;;
  start) [ $# -eq 2 ] || tb_die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || tb_die "usage: $0 stop DIR"; stop "$2" ;;
  *) tb_die "usage: $0 install | start DIR | stop DIR" ;;
esac

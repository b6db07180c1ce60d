# Shared helpers of sshd.sh and hosts.sh (sourced, bash). See ../../../shared/docs/testbed.md.

tb_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

tb_need_root() { [ "$(id -u)" = 0 ] || tb_die "must run as root"; }

tb_need_sshd() {
  [ -x /usr/sbin/sshd ] || tb_die "/usr/sbin/sshd is missing: run '$(dirname "$0")/sshd.sh install'"
  mkdir -p /run/sshd && chmod 0755 /run/sshd # privilege-separation dir (no systemd-tmpfiles here)
}

tb_install() {
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    openssh-server openssh-client iproute2
}

# The test user: key-only login; useradd leaves the account locked ('!'), which UsePAM=no refuses.
tb_user() {
  id jobtest >/dev/null 2>&1 || useradd -m -s /bin/bash jobtest
  usermod -p '*' jobtest
}

# Client key (root-only) and authorized_keys (read by jobtest, hence 644) in $1.
tb_client_key() {
  local d=$1
  [ -f "$d/clientkey" ] || ssh-keygen -q -t ed25519 -N '' -C gat-test-client -f "$d/clientkey"
  chmod 600 "$d/clientkey"
  cp "$d/clientkey.pub" "$d/authorized_keys"
  chmod 644 "$d/authorized_keys"
  # sshd reads authorized_keys as jobtest: every parent directory must be traversable.
  runuser -u jobtest -- test -r "$d/authorized_keys" ||
    tb_die "jobtest cannot read $d/authorized_keys: make $d and its parents traversable (chmod o+x)"
}

tb_host_key() { # FILE
  [ -f "$1" ] || ssh-keygen -q -t ed25519 -N '' -C gat-test-host -f "$1"
}

# sshd_config on stdout: PORT LISTEN PIDFILE HOSTKEY AUTHORIZED_KEYS
tb_sshd_config() {
  cat <<EOF
Port $1
ListenAddress $2
HostKey $4
PidFile $3
AuthorizedKeysFile $5
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
MaxStartups 100:30:200
MaxSessions ${TB_MAX_SESSIONS:-100}
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
}

# Client config on stdout: DIR. Host keys are checked against DIR/known_hosts only.
tb_ssh_config() {
  cat <<EOF
Host *
  User jobtest
  IdentityFile $1/clientkey
  IdentitiesOnly yes
  UserKnownHostsFile $1/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  KexAlgorithms curve25519-sha256
  ConnectTimeout 5
  LogLevel ERROR
EOF
}

# Wait (at most 20 s: a loaded CI machine runs many tests' daemons at once) for a pid file
# naming a live process.
tb_wait_pidfile() { # PIDFILE [LOG: give up at once when it says sshd could not bind]
  local f=$1 log=${2:-} i
  for i in $(seq 400); do
    if [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then return 0; fi
    [ -n "$log" ] && grep -q "Cannot bind any address" "$log" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}

# Is PID alive (zombies count as gone: PID 1 reaps them lazily here)?
tb_alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$st" ] && [ "$st" != Z ]
}

# PID and all of its descendants, parents first.
tb_tree() {
  local root=$1
  local -A kids=()
  local f rest pid ppid
  for f in /proc/[0-9]*/stat; do
    { IFS= read -r rest <"$f"; } 2>/dev/null || continue
    pid=${f#/proc/}; pid=${pid%/stat}
    rest=${rest##*) }
    set -f; set -- $rest; set +f
    ppid=$2
    kids[$ppid]="${kids[$ppid]:-} $pid"
  done
  local queue=("$root") out=() p
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    out+=("$p")
    for f in ${kids[$p]:-}; do queue+=("$f"); done
  done
  echo "${out[@]}"
}

# TERM PIDs, wait ≤5 s, KILL what is left, wait ≤3 s more.
tb_kill_pids() {
  local p i left
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 100); do
    left=; for p in "$@"; do tb_alive "$p" && left="$left $p"; done
    [ -z "$left" ] && return 0
    sleep 0.05
  done
  kill -KILL $left 2>/dev/null || true
  for i in $(seq 60); do
    left=; for p in "$@"; do tb_alive "$p" && left="$left $p"; done
    [ -z "$left" ] && return 0
    sleep 0.05
  done
  echo "${0##*/}: processes survive: $left" >&2
  return 1
}

# Stop the sshd whose pid file is $1, with every connection it serves (its descendants).
tb_stop_sshd() {
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if tb_alive "$pid" && grep -q sshd "/proc/$pid/cmdline" 2>/dev/null; then
    # shellcheck disable=SC2046
    tb_kill_pids $(tb_tree "$pid")
  fi
  rm -f "$f"
}

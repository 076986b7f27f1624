#!/bin/sh
# Makes sure what Hoist's run and tests need is here, installing it from
# Debian's packages and starting it when it is not, and saying so.
#   scripts/deps.sh engine   a running Docker engine, git, busybox-static
#   scripts/deps.sh test     the same, plus Debian's docker-registry, chromium and
#                            postgresql (15) for tests
#   scripts/deps.sh podman   Debian's podman, its Docker-compatible service
#                            started on unix:///run/hoist-podman.sock (rootful)
set -eu
want=${1:-engine}

say() { echo "deps: $*" >&2; }

apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing $*: run as root, or install them with: sudo apt-get install -y $*"
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$want" = podman ]; then
  sock=/run/hoist-podman.sock
  command -v podman >/dev/null || apt_install podman
  podman_up() { [ -S "$sock" ] && podman --remote --url "unix://$sock" version >/dev/null 2>&1; }
  # Like podman.socket's SocketMode=0660: root's group may use the engine
  # too, which is how a trusted project's script in its own image (uid
  # 10001, the socket's group added) reaches it.
  if podman_up; then
    chmod 660 "$sock"
    exit 0
  fi
  # Containers Hoist starts carry their ulimits; scripts that call the
  # docker CLI do not, and Podman's default nofile limit cannot be set
  # where root lacks CAP_SYS_RESOURCE (containers here, CI).
  conf=/run/hoist-podman.containers.conf
  printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=1024:1024"]\n' >"$conf"
  log=/var/log/hoist-podman.log
  say "starting podman system service on unix://$sock (log: $log)"
  # From a folder of its own: conmon writes a file named "oom" into the
  # service's working folder when a container is killed for its memory,
  # which would otherwise be the clone.
  mkdir -p /run/hoist-podman
  cd /run/hoist-podman
  CONTAINERS_CONF=$conf nohup podman system service --time=0 "unix://$sock" >"$log" 2>&1 &
  i=0
  until podman_up; do
    i=$((i + 1))
    if [ $i -gt 60 ]; then
      say "podman system service did not come up within 30 s; see $log"
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  chmod 660 "$sock"
  say "podman is up (pid $!)"
  exit 0
fi

need_pkgs=
command -v git >/dev/null || need_pkgs="$need_pkgs git"
[ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || need_pkgs="$need_pkgs busybox-static"
command -v dockerd >/dev/null || need_pkgs="$need_pkgs docker.io"
if [ "$want" = test ]; then
  command -v docker-registry >/dev/null || need_pkgs="$need_pkgs docker-registry"
  # The fault harness's hosts: network namespaces, veths, NAT rules.
  command -v ip >/dev/null || need_pkgs="$need_pkgs iproute2"
  command -v iptables >/dev/null || need_pkgs="$need_pkgs iptables"
  if [ ! -x /usr/bin/chromium ]; then
    say "no Chromium at /usr/bin/chromium: the browser tests need it"
    need_pkgs="$need_pkgs chromium"
  fi
  if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
    say "no PostgreSQL 15: the PostgreSQL store's tests need it (they start a cluster of their own)"
    # Only the programs: Debian's package would otherwise make a "main"
    # cluster and try to start it.
    if [ "$(id -u)" = 0 ]; then
      mkdir -p /etc/postgresql-common/createcluster.d
      echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/hoist.conf
    fi
    need_pkgs="$need_pkgs postgresql"
  fi
fi
[ -z "$need_pkgs" ] || apt_install $need_pkgs

engine_up() { docker info >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ]; then
  say "using the engine at DOCKER_HOST=$DOCKER_HOST"
elif engine_up; then
  :
else
  log=/var/log/hoist-dockerd.log
  say "no Docker engine is running: starting dockerd in the background (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  i=0
  until engine_up; do
    i=$((i + 1))
    if [ $i -gt 60 ]; then
      say "dockerd did not come up within 30 s; see $log"
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  say "dockerd is up (pid $!)"
fi

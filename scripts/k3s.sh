#!/bin/sh
# A real single-node Kubernetes (k3s) on this machine, for tests and users.
#   scripts/k3s.sh up            build k3s once (cached), make and import the
#                                pause, toolbox, git and buildkit images, start
#                                the cluster, wait until its node is Ready (on
#                                a running cluster: import the images that
#                                changed since it started)
#   scripts/k3s.sh down          stop what up started (by PID) and remove its
#                                mounts, interfaces, iptables rules and state
#   scripts/k3s.sh status        up or down (exit status 3), and the node's readiness
#   scripts/k3s.sh kubeconfig    print the kubeconfig's path
#   scripts/k3s.sh kubectl ARGS  the cluster's own kubectl on that kubeconfig
#   scripts/k3s.sh images        print the images imported into the node
#   scripts/k3s.sh build         only build k3s and buildkit into the cache
#   scripts/k3s.sh import-hoist  make the image of Hoist itself from this
#                                clone (deploy/kubernetes runs it) and import
#                                it into the running node as hoist:SUM and
#                                hoist:local; prints hoist:SUM. Nothing is
#                                imported when the node has both already.
#                                Not part of up (up stays fast): run it again
#                                after up following a down, or after changes.
#
# k3s is built from its Go module through the module proxy (no release can
# be downloaded here): 6–18 minutes and ~6 GB of Go build cache the first
# time, then the binary is reused from $HOIST_K3S_CACHE, outside any clone.
# No image can be pulled either, so the node's images are made locally:
# pods use imagePullPolicy: Never for them.
#
# Environment:
#   HOIST_K3S_CACHE       built binaries, by version (/var/cache/hoist)
#   HOIST_K3S_DATA        the cluster's data and state (/var/lib/hoist-k3s)
#   HOIST_K3S_PORT        the API server's port (6443)
#   HOIST_K3S_REGISTRIES  registries the node pulls from, as mirrors in
#                         k3s's registries.yaml, space-separated: HOST:PORT
#                         (over plain HTTP when HOST is loopback, else HTTPS)
#                         or NAME=URL (pulls of NAME/... go to URL);
#                         default 127.0.0.1:5000, Hoist's embedded registry.
#                         Read by up.
#   HOIST_K3S_BUILDKIT    0: make no buildkit image (saves ~3 min the first time)
set -eu

say() { echo "k3s: $*" >&2; }
die() { say "$*"; exit 1; }

K3S_VERSION=v1.32.0+k3s1
# The only k3s the module proxy serves: v1.32.0+k3s1's commit.
K3S_MODULE_VERSION=v1.32.1-0.20250107171309-cca8facaa33a
K3S_COMMIT=cca8facaa33a
BUILDKIT_VERSION=v0.34.1

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${HOIST_K3S_CACHE:-/var/cache/hoist}
data=${HOIST_K3S_DATA:-/var/lib/hoist-k3s}
port=${HOIST_K3S_PORT:-6443}
registries=${HOIST_K3S_REGISTRIES-127.0.0.1:5000}
build_net=10.44.0.0/16 # internal/kube's BuildNetwork

k3s_bin=$cache/k3s/$K3S_VERSION/k3s
bin=$data/bin
kubeconfig=$data/kubeconfig.yaml
pidfile=$data/k3s.pid
before=$data/before # what existed before up, so down removes only the rest
log=/var/log/hoist-k3s.log
sock=/run/k3s/containerd/containerd.sock

# Paths k3s, its kubelet and its containerd create outside $data; down
# removes those that did not exist before up.
outside="/run/k3s /var/lib/kubelet /var/lib/rancher /etc/rancher/node /etc/rancher/k3s /etc/rancher /var/log/pods /var/log/containers /run/flannel"
# Interfaces they may create (cni0 is the bridge of our CNI config).
links="cni0 flannel.1 flannel-v6.1 kube-ipvs0"

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (a cluster's kubelet, mounts and iptables rules); run it as root"
}

# --- installing and building ---------------------------------------------

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_deps() {
  pkgs=
  command -v go >/dev/null || die "no go in PATH: k3s is built from its Go module (Go 1.23 or later)"
  command -v gcc >/dev/null || pkgs="$pkgs gcc libc6-dev"
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || pkgs="$pkgs containernetworking-plugins"
  command -v runc >/dev/null || pkgs="$pkgs runc"
  command -v containerd-shim-runc-v2 >/dev/null || pkgs="$pkgs containerd"
  command -v iptables >/dev/null || pkgs="$pkgs iptables"
  command -v ip >/dev/null || pkgs="$pkgs iproute2"
  command -v conntrack >/dev/null || pkgs="$pkgs conntrack"
  [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || pkgs="$pkgs busybox-static"
  [ -z "$pkgs" ] || apt_install $pkgs
}

# build_k3s builds k3s's all-in-one binary (server, agent, containerd,
# kubectl, crictl, ctr) from its module, through a wrapper module that
# copies k3s's replace directives (they do not apply to a dependency).
build_k3s() {
  [ -x "$k3s_bin" ] && return 0
  src=$cache/k3s/src-$K3S_VERSION
  mkdir -p "$src" "$(dirname "$k3s_bin")"
  say "building k3s $K3S_VERSION from its Go module, once: 6-18 min and ~6 GB of Go build cache (log: $src/build.log)"
  start=$(date +%s)
  (
    # k3s's forks are not in the checksum database.
    export GONOSUMDB=github.com/k3s-io GOFLAGS=-mod=mod CGO_ENABLED=1
    modfile=$(go mod download -json "github.com/k3s-io/k3s@$K3S_MODULE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -n "$modfile" ] || exit 1
    {
      echo "module hoist.local/k3s-build"
      echo
      echo "go $(sed -n 's/^go //p' "$modfile")"
      echo
      echo "require github.com/k3s-io/k3s $K3S_MODULE_VERSION"
      echo
      sed -n '/^replace (/,/^)/p; /^replace [^(]/p' "$modfile"
    } >"$src/go.mod"
    cd "$src"
    # UpstreamGolang must name the Go that builds it, or k3s refuses to start.
    pkg=github.com/k3s-io/k3s/pkg/version
    go build -tags "ctrd netcgo osusergo providerless urfave_cli_no_docs" \
      -ldflags "-s -w -X $pkg.Version=$K3S_VERSION -X $pkg.GitCommit=$K3S_COMMIT -X $pkg.UpstreamGolang=$(go env GOVERSION)
        -X k8s.io/component-base/version.gitVersion=$K3S_VERSION -X k8s.io/component-base/version.gitCommit=$K3S_COMMIT
        -X k8s.io/client-go/pkg/version.gitVersion=$K3S_VERSION -X k8s.io/client-go/pkg/version.gitCommit=$K3S_COMMIT" \
      -o "$k3s_bin.tmp" github.com/k3s-io/k3s/cmd/server
  ) >"$src/build.log" 2>&1 || { tail -20 "$src/build.log" >&2; die "building k3s failed; see $src/build.log"; }
  mv "$k3s_bin.tmp" "$k3s_bin"
  say "built $k3s_bin in $(($(date +%s) - start)) s"
}

# build_buildkit builds buildkitd and buildctl, static, once, through a
# wrapper module that copies buildkit's exclude directives (go install
# PKG@VERSION refuses a module that has any).
build_buildkit() {
  dir=$cache/buildkit/$BUILDKIT_VERSION
  [ -x "$dir/buildkitd" ] && [ -x "$dir/buildctl" ] && return 0
  mkdir -p "$dir/src"
  say "building buildkit $BUILDKIT_VERSION from its Go module, once: ~3 min (log: $dir/build.log)"
  start=$(date +%s)
  (
    export CGO_ENABLED=0 GOFLAGS=-mod=mod
    modfile=$(go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -n "$modfile" ] || exit 1
    {
      echo "module hoist.local/buildkit-build"
      echo
      echo "go $(sed -n 's/^go //p' "$modfile")"
      echo
      echo "require github.com/moby/buildkit $BUILDKIT_VERSION"
      echo
      sed -n '/^exclude (/,/^)/p; /^exclude [^(]/p; /^replace (/,/^)/p; /^replace [^(]/p' "$modfile"
    } >"$dir/src/go.mod"
    cd "$dir/src"
    for c in buildkitd buildctl; do
      go build -ldflags "-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
        -o "$dir/$c.tmp" "github.com/moby/buildkit/cmd/$c"
    done
    mv "$dir/buildkitd.tmp" "$dir/buildkitd"
    mv "$dir/buildctl.tmp" "$dir/buildctl"
  ) >"$dir/build.log" 2>&1 || { tail -20 "$dir/build.log" >&2; die "building buildkit failed; see $dir/build.log"; }
  say "built buildkitd and buildctl in $(($(date +%s) - start)) s"
}

# make_images writes the node's images as archives into $data/images: the
# pause image (a static Go program), the engine's own toolbox image, and
# buildkit with Debian's runc and the libraries it links.
make_images() {
  imgs=$data/images
  tools=$data/tools
  mkdir -p "$imgs" "$tools"
  build_k3simage
  (cd "$here" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$tools/pause" ./cmd/k3simage/pause) ||
    die "building cmd/k3simage/pause in $here failed"
  sum=$(sha256sum "$tools/pause" | cut -c1-12)
  pause_ref=hoist-pause:$sum
  "$tools/k3simage" -o "$imgs/pause.tar" -ref "$pause_ref" -entrypoint '["/pause"]' files "$tools/pause=/pause" >/dev/null
  echo "$pause_ref" >"$imgs/pause.ref"
  "$tools/k3simage" -o "$imgs/toolbox.tar" toolbox >"$imgs/toolbox.ref"
  make_git_image
  rm -f "$imgs/buildkit.tar" "$imgs/buildkit.ref"
  [ "${HOIST_K3S_BUILDKIT:-1}" = 0 ] && return 0
  build_buildkit
  dir=$cache/buildkit/$BUILDKIT_VERSION
  runc=$(command -v runc)
  # The CNI plugins BuildKit puts RUN steps' network namespaces on
  # (internal/kube's buildkitd runs with --oci-worker-net=cni and ptp).
  cni=/usr/lib/cni
  set -- "$dir/buildkitd=/usr/bin/buildkitd" "$dir/buildctl=/usr/bin/buildctl" "$runc=/usr/bin/runc" tmp/ var/lib/buildkit/ etc/buildkit/
  for p in ptp host-local loopback; do
    set -- "$@" "$cni/$p=/opt/cni/bin/$p"
  done
  for lib in $(libs "$runc" "$cni/ptp" "$cni/host-local" "$cni/loopback"); do
    set -- "$@" "$lib=$lib"
  done
  sum=$(cat "$dir/buildkitd" "$dir/buildctl" "$runc" "$cni/ptp" "$cni/host-local" "$cni/loopback" | sha256sum | cut -c1-12)
  ref=hoist-buildkit:$BUILDKIT_VERSION-$sum
  "$tools/k3simage" -o "$imgs/buildkit.tar" -ref "$ref" -env PATH=/usr/bin:/bin \
    -entrypoint '["/usr/bin/buildkitd"]' files "$@" >/dev/null
  echo "$ref" >"$imgs/buildkit.ref"
}

build_k3simage() {
  tools=$data/tools
  mkdir -p "$tools"
  (cd "$here" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$tools/k3simage" ./cmd/k3simage) ||
    die "building cmd/k3simage in $here failed"
}

# libs prints the shared libraries (and the loader) the programs named link,
# once each.
libs() {
  for p in "$@"; do
    ldd "$p" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'
  done | sort -u
}

# git_deps installs what git_files collects when this machine lacks it.
git_deps() {
  pkgs=
  [ -x /usr/lib/git-core/git-remote-http ] || pkgs="$pkgs git"
  [ -f /etc/ssl/certs/ca-certificates.crt ] || pkgs="$pkgs ca-certificates"
  [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || pkgs="$pkgs busybox-static"
  [ -z "$pkgs" ] || apt_install $pkgs
}

# git_files prints, one a line, the k3simage files SPECs of Debian's git
# (with git-remote-http(s), its helpers, templates and the libraries they
# link), the CA certificates, and busybox with its applets (the shell and
# tools git's scripted commands need, and tar).
git_files() {
  core=/usr/lib/git-core
  printf '%s\n' "$core=$core" "/usr/bin/git->../lib/git-core/git" \
    /usr/share/git-core/templates=/usr/share/git-core/templates \
    /etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt /bin/busybox=/bin/busybox
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || echo "bin/$a->busybox"
  done
  for lib in $(libs "$core/git" "$core/git-remote-http" "$core/git-sh-i18n--envsubst"); do
    echo "$lib=$lib"
  done
}

# git_sum prints a digest of the content git_files collects.
git_sum() {
  cat /usr/lib/git-core/git /usr/lib/git-core/git-remote-http /bin/busybox /etc/ssl/certs/ca-certificates.crt | sha256sum | cut -c1-12
}

# make_hoist_image writes the image of Hoist itself into $data/hoist and
# prints its content-addressed reference: the static hoist binary, git
# (git_files: the busybox in it is also the toolbox image's, which the
# toolbox image Hoist names is made of), a user hoist (10001), an empty
# /tmp.
make_hoist_image() {
  out=$data/hoist
  mkdir -p "$out"
  build_k3simage
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/hoist" ./cmd/hoist) ||
    die "building cmd/hoist in $here failed"
  ldd "$out/hoist" 2>&1 | grep -q 'not a dynamic' || die "$out/hoist is not static (CGO_ENABLED=0 was ignored?)"
  git_deps
  printf 'root:x:0:0:root:/root:/bin/sh\nhoist:x:10001:10001:Hoist:/var/lib/hoist:/bin/sh\n' >"$out/passwd"
  printf 'root:x:0:\nhoist:x:10001:\n' >"$out/group"
  # shellcheck disable=SC2046 # one SPEC a line, none with spaces
  set -- "$out/hoist=/usr/bin/hoist" $(git_files) \
    "$out/passwd=/etc/passwd" "$out/group=/etc/group" tmp/ var/lib/hoist/
  sum=$({
    echo "$@"
    cat "$out/hoist"
    git_sum
  } | sha256sum | cut -c1-12)
  ref=hoist:$sum
  if [ ! -f "$out/hoist.tar" ] || [ "$(cat "$out/hoist.ref" 2>/dev/null)" != "$ref" ]; then
    "$data/tools/k3simage" -o "$out/hoist.tar" -ref "$ref" -ref hoist:local -user 10001:10001 \
      -env PATH=/usr/bin:/bin -env HOME=/tmp -entrypoint '["/usr/bin/hoist"]' files "$@" >/dev/null ||
      die "making the image of Hoist failed"
    echo "$ref" >"$out/hoist.ref"
  fi
  echo "$ref"
}

# make_git_image writes the image checkouts run git in (internal/kube's
# Source, --k8s-git-image) into $data/images: git_files, a user hoist
# (1000, internal/kube's SandboxUID), an empty /tmp and /workspace.
make_git_image() {
  imgs=$data/images
  mkdir -p "$imgs"
  git_deps
  printf 'root:x:0:0:root:/root:/bin/sh\nhoist:x:1000:1000:Hoist:/tmp:/bin/sh\n' >"$imgs/git.passwd"
  printf 'root:x:0:\nhoist:x:1000:\n' >"$imgs/git.group"
  # shellcheck disable=SC2046 # one SPEC a line, none with spaces
  set -- $(git_files) "$imgs/git.passwd=/etc/passwd" "$imgs/git.group=/etc/group" tmp/ workspace/
  ref=hoist-git:$({
    echo "$@"
    git_sum
  } | sha256sum | cut -c1-12)
  "$data/tools/k3simage" -o "$imgs/git.tar" -ref "$ref" -user 1000:1000 \
    -env PATH=/usr/bin:/bin -env HOME=/tmp files "$@" >/dev/null || die "making the git image failed"
  echo "$ref" >"$imgs/git.ref"
}

# import_images imports the images make_images made into the running node
# and names the toolbox, BuildKit and git ones by the stable tags Hoist's
# Kubernetes executor uses (--k8s-toolbox-image, --k8s-buildkit-image,
# --k8s-git-image). With "missing", only the images the node lacks are
# imported: up on a running cluster gives it the images this clone makes
# (a new git image, a changed toolbox) without a restart. A changed pause
# image takes a down and an up.
import_images() {
  for ref_file in "$data"/images/*.ref; do
    ref=$(cat "$ref_file")
    if [ "${1:-}" = missing ] && ctr images ls -q "name==docker.io/library/$ref" | grep -q .; then
      continue
    fi
    img=${ref_file%.ref}.tar
    ctr images import "$img" >/dev/null || die "importing $img into k3s's containerd failed"
    [ "${1:-}" != missing ] || say "imported $ref"
  done
  for kind in toolbox buildkit git; do
    [ -f "$data/images/$kind.ref" ] || continue
    ctr images tag --force "docker.io/library/$(cat "$data/images/$kind.ref")" "docker.io/library/hoist-$kind:latest" >/dev/null ||
      die "tagging the $kind image hoist-$kind:latest failed"
  done
}

cmd_import_hoist() {
  need_root import-hoist
  running >/dev/null || die "down: run scripts/k3s.sh up first"
  ref=$(make_hoist_image) || exit 1
  sum=${ref#hoist:}
  # Both names on one digest: imported already, and hoist:local is it.
  digests=$(ctr images ls "name~=^docker.io/library/hoist:($sum|local)\$" | awk 'NR > 1 { print $3 }')
  if [ "$(echo "$digests" | wc -w)" = 2 ] && [ "$(echo "$digests" | sort -u | wc -l)" = 1 ]; then
    say "the node has $ref already"
  else
    ctr images import "$data/hoist/hoist.tar" >/dev/null || die "importing $data/hoist/hoist.tar into k3s's containerd failed"
    say "imported $ref (also named hoist:local)"
  fi
  echo "$ref"
}

# --- state ---------------------------------------------------------------

# lock makes concurrent ups and downs (two clones, two test runs) wait for
# each other; k3s itself does not inherit the lock.
locked=
lock() {
  [ -z "$locked" ] || return 0
  mkdir -p "$data"
  exec 9>"$data/lock"
  if ! flock -n 9; then
    say "another scripts/k3s.sh up or down is running; waiting for it"
    flock -w 1200 9 || die "it still runs after 20 min ($data/lock)"
  fi
  locked=1
}

# running prints the PID of the k3s that up started, if it still runs.
running() {
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$k3s_bin")" ] || return 1
  echo "$pid"
}

kubectl() { KUBECONFIG=$kubeconfig "$bin/kubectl" "$@"; }
ctr() { "$bin/ctr" --address "$sock" -n k8s.io "$@"; }

node_ready() {
  [ "$(kubectl get nodes -o 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# --- up ------------------------------------------------------------------

registries_yaml() {
  echo "mirrors:"
  for r in $registries; do
    case $r in
    *=*) name=${r%%=*} url=${r#*=} ;;
    127.* | localhost:* | localhost | \[::1\]*) name=$r url=http://$r ;;
    *) name=$r url=https://$r ;;
    esac
    printf '  "%s":\n    endpoint:\n      - "%s"\n' "$name" "$url"
  done
}

# containerd_template is k3s's own template less what this node does not
# use, plus restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE, so a
# negative oom_score_adj fails) and our CNI folders; config_path must stay
# or registries.yaml is ignored.
containerd_template() {
  cat <<EOF
# scripts/k3s.sh's template for k3s's containerd
version = 2

[plugins."io.containerd.internal.v1.opt"]
  path = "{{ .NodeConfig.Containerd.Opt }}"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"
  enable_selinux = false
  enable_unprivileged_ports = {{ .EnableUnprivileged }}
  enable_unprivileged_icmp = {{ .EnableUnprivileged }}
  restrict_oom_score_adj = true
  sandbox_image = "{{ .NodeConfig.AgentConfig.PauseImage }}"
{{- if .DisableCgroup}}
  disable_cgroup = true
{{end}}

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "{{ .NodeConfig.AgentConfig.Snapshotter }}"
  disable_snapshot_annotations = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$data/cni/net.d"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = {{ .SystemdCgroup }}

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "{{ .NodeConfig.Containerd.Registry }}"
EOF
}

# cni_config is a plain bridge (no flannel) on the cluster CIDR's first
# /24, with its own IPAM folder. No portmap or firewall plugin: their
# chains (CNI-HOSTPORT-*, CNI-FORWARD) are shared with any other CNI user of
# the machine, so down could not tell ours apart; the bridge's masquerade
# rules carry our network's name.
cni_config() {
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hoist-k3s",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$data/cni/networks",
               "ranges": [[{"subnet": "10.42.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    }
  ]
}
EOF
}

cmd_up() {
  need_root up
  lock
  if pid=$(running); then
    if node_ready; then
      make_images
      import_images missing
      say "already up (pid $pid), node Ready; kubeconfig: $kubeconfig"
      exit 0
    fi
    say "already up (pid $pid), node not Ready yet; waiting"
    wait_ready "$pid" "$(date +%s)"
    exit 0
  fi
  if [ -f "$pidfile" ] || [ -f "$before" ]; then
    say "a previous cluster was not taken down cleanly: cleaning up first"
    cmd_down
  fi
  install_deps
  build_k3s
  make_images

  mkdir -p "$data" "$bin" "$data/cni/net.d"
  : >"$before"
  for p in $outside; do
    if [ -e "$p" ]; then echo "path $p" >>"$before"; fi
  done
  for l in $links; do
    if ip link show "$l" >/dev/null 2>&1; then echo "link $l" >>"$before"; fi
  done
  for fam in ip ip6; do
    if nft list table "$fam" kube-proxy >/dev/null 2>&1; then echo "nft $fam" >>"$before"; fi
  done
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    if [ -d "$c" ]; then echo "cgroup $c" >>"$before"; fi
  done

  # k3s's other commands are chosen by the name they run under.
  for l in k3s containerd ctr kubectl crictl; do ln -sf "$k3s_bin" "$bin/$l"; done
  tmpl=$data/k3s/agent/etc/containerd/config.toml.tmpl
  mkdir -p "$(dirname "$tmpl")"
  containerd_template >"$tmpl"
  cni_config >"$data/cni/net.d/10-hoist-k3s.conflist"
  registries_yaml >"$data/registries.yaml"
  # Pod to pod through the bridge crosses FORWARD, whose policy dockerd
  # sets to DROP (flannel would add the same rules).
  for dir in -i -o; do
    iptables -w -I FORWARD 1 $dir cni0 -m comment --comment hoist-k3s -j ACCEPT
  done
  # RUN steps of builds have addresses of $build_net (internal/kube's
  # BuildNetwork, routed to them one by one by the ptp plugin): out through
  # the node's addresses, and their replies back.
  iptables -w -I FORWARD 1 -s "$build_net" -m comment --comment hoist-k3s -j ACCEPT
  iptables -w -I FORWARD 1 -d "$build_net" -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment hoist-k3s -j ACCEPT
  iptables -w -t nat -A POSTROUTING -s "$build_net" ! -d "$build_net" -m comment --comment hoist-k3s -j MASQUERADE

  start=$(date +%s)
  say "starting k3s $K3S_VERSION (log: $log)"
  # pod-max-pids: Kubernetes bounds processes per pod, not per container;
  # 1024 is what Hoist's pods' containers get elsewhere.
  # Our bin first: k3s runs "containerd" from PATH, which must be itself;
  # runc and containerd-shim-runc-v2 are Debian's.
  PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    nohup "$bin/k3s" server \
    --data-dir "$data/k3s" \
    --write-kubeconfig "$kubeconfig" --write-kubeconfig-mode 600 \
    --https-listen-port "$port" \
    --private-registry "$data/registries.yaml" \
    --pause-image "docker.io/library/$(cat "$data/images/pause.ref")" \
    --flannel-backend=none --disable-network-policy \
    --disable=coredns,servicelb,traefik,local-storage,metrics-server \
    --disable-helm-controller \
    --kubelet-arg=pod-max-pids=1024 \
    >"$log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$pidfile"

  # The images, as soon as the node's containerd answers.
  i=0
  until [ -S "$sock" ] && ctr version >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; die "k3s exited; see $log"; }
    i=$((i + 1))
    [ $i -le 600 ] || die "k3s's containerd did not answer within 60 s; see $log"
    sleep 0.1
  done
  import_images
  wait_ready "$pid" "$start"
}

# wait_ready waits until the node is Ready and the default ServiceAccount
# exists (pods cannot be created before it).
wait_ready() {
  pid=$1 start=$2
  i=0
  until node_ready && kubectl get serviceaccount default >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; die "k3s exited; see $log"; }
    i=$((i + 1))
    [ $i -le 1200 ] || die "the node was not Ready within 120 s; see $log and: scripts/k3s.sh kubectl describe node"
    sleep 0.1
  done
  say "up in $(($(date +%s) - start)) s (pid $pid), node Ready; kubeconfig: $kubeconfig"
  say "images (imagePullPolicy: Never): $(cat "$data"/images/*.ref | tr '\n' ' ')"
}

# --- down ----------------------------------------------------------------

# descendants prints the PIDs of every descendant of the PIDs given.
descendants() {
  # pid ppid of every process, once.
  table=$(for s in /proc/[0-9]*/stat; do
    { read -r line <"$s"; } 2>/dev/null || continue
    p=${line%% *}
    rest=${line##*) }
    set -- $rest
    echo "$p $2"
  done)
  todo="$*"
  while [ -n "$todo" ]; do
    next=
    for p in $todo; do
      for c in $(echo "$table" | awk -v p="$p" '$2 == p { print $1 }'); do
        echo "$c"
        next="$next $c"
      done
    done
    todo=$next
  done
  return 0
}

# shims prints the PIDs of the containerd shims of k3s's containerd: they
# outlive it (re-parented), and are told apart from dockerd's by the
# address of the containerd that started them.
shims() {
  for c in /proc/[0-9]*/cmdline; do
    { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -q "containerd-shim.* -address $sock" || continue
    p=${c#/proc/}
    echo "${p%/cmdline}"
  done
  return 0
}

# had says whether up found $1 before it started; when that is not known,
# yes: down then removes nothing it cannot be sure it made.
had() { [ ! -f "$before" ] || grep -qx "$1" "$before"; }

# ipt_clean deletes, one by one, the rules of the built-in chains that
# are ours (those jumping to KUBE-* chains, kube-proxy's and kubelet's,
# and those naming hoist-k3s: ours, and the bridge's masquerade rules of
# our network), then the chains they jumped to: dockerd shares the tables,
# so they are never flushed or rewritten as a whole.
ipt_clean() {
  ipt=$1
  command -v "$ipt" >/dev/null || return 0
  for t in filter nat mangle raw; do
    rules=$($ipt -w -t "$t" -S 2>/dev/null) || continue
    ours=$(echo "$rules" | grep -E '^-A [A-Z]+ ' | grep -E -- '-j KUBE-|hoist-k3s' || true)
    [ -n "$ours" ] || [ -n "$(echo "$rules" | grep '^-N KUBE-')" ] || continue
    echo "$ours" | while IFS= read -r r; do
      [ -n "$r" ] && eval "$ipt -w -t $t -D ${r#-A }" 2>/dev/null || true
    done
    chains="$(echo "$rules" | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p') $(echo "$ours" | sed -n 's/.* -j \(CNI-[^ ]*\).*/\1/p')"
    for c in $chains; do $ipt -w -t "$t" -F "$c" 2>/dev/null || true; done
    for c in $chains; do $ipt -w -t "$t" -X "$c" 2>/dev/null || true; done
  done
}

cmd_down() {
  need_root down
  lock
  start=$(date +%s)
  if pid=$(running); then
    say "stopping k3s (pid $pid)"
    kids=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" $kids 2>/dev/null || true
  elif [ ! -f "$before" ]; then
    say "not up"
    rm -f "$pidfile"
    return 0
  fi
  # The pods' containers, then their shims.
  s=$(shims)
  if [ -n "$s" ]; then
    c=$(descendants $s)
    [ -z "$c" ] || kill -KILL $c 2>/dev/null || true
    kill -KILL $s 2>/dev/null || true
    i=0
    while [ -n "$(shims)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi

  # Mounts: containers' rootfs and shm, pods' volumes, network namespaces.
  for m in $(awk '{ print $5 }' /proc/self/mountinfo | grep -E "^(/run/k3s|/var/lib/kubelet|$data|/run/netns/cni-)" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
  rm -f /run/netns/cni-* 2>/dev/null || true

  for l in $links; do
    had "link $l" || ! ip link show "$l" >/dev/null 2>&1 || ip link delete "$l" || true
  done
  for ipt in iptables ip6tables; do ipt_clean $ipt; done
  for fam in ip ip6; do
    had "nft $fam" || nft delete table "$fam" kube-proxy 2>/dev/null || true
  done
  # The pods' cgroups, deepest first (empty now).
  for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$c" ] && ! had "cgroup $c" || continue
    find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  # Never rm -rf through a mount still there (a pod's subPath is a bind
  # mount of a host folder).
  remove() {
    if awk '{ print $5 }' /proc/self/mountinfo | grep -q "^$1\(/\|\$\)"; then
      say "not removing $1: something is still mounted under it"
    else
      rm -rf "$1"
    fi
  }
  for p in $outside; do
    had "path $p" || remove "$p"
  done
  # The cluster itself: the next up starts afresh (images are re-imported).
  remove "$data/k3s"
  rm -rf "$data/cni/networks" "$kubeconfig" "$pidfile" "$before"
  say "down in $(($(date +%s) - start)) s"
}

# --- the rest ------------------------------------------------------------

cmd_status() {
  if pid=$(running); then
    if node_ready; then echo "up (pid $pid), node Ready"; else echo "up (pid $pid), node not Ready"; fi
  else
    echo "down"
    return 3
  fi
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
kubeconfig)
  running >/dev/null || die "down: run scripts/k3s.sh up first"
  echo "$kubeconfig"
  ;;
kubectl)
  shift
  running >/dev/null || die "down: run scripts/k3s.sh up first"
  KUBECONFIG=$kubeconfig exec "$bin/kubectl" "$@"
  ;;
build)
  install_deps
  build_k3s
  [ "${HOIST_K3S_BUILDKIT:-1}" = 0 ] || build_buildkit
  ;;
import-hoist) cmd_import_hoist ;;
images)
  running >/dev/null || die "down: run scripts/k3s.sh up first"
  cat "$data"/images/*.ref
  ;;
*)
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac

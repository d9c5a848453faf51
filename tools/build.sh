#!/usr/bin/env bash
# Builds the binaries that kubelog's end-to-end tests run (test/e2e/testenv) and the
# linters that make lint runs, from source through the Go module proxy, at the
# versions pinned by the modules beside this script:
#
#   k8s/    k8s.io/kubernetes: kube-apiserver, kube-controller-manager,
#           kube-scheduler, kubectl
#   etcd/   go.etcd.io/etcd/server/v3: etcd
#   kwok/   sigs.k8s.io/kwok: kwok, plus the Logs/ClusterLogs CRDs and the node and
#           pod stages it needs (kwok-crds.yaml, kwok-stages.yaml)
#   minio/  github.com/minio/minio: minio
#   staticcheck/  honnef.co/go/tools: staticcheck
#   gosec/  github.com/securego/gosec/v2: gosec
#
# Each is its own module so that each binary is built with the dependency graph its
# authors tested: in one module, minimal version selection would build etcd v3.6.5
# against etcd v3.6.8's API packages (k8s requires those) and MinIO against gRPC,
# OpenTelemetry and the etcd client several releases newer than its own.
#
#   tools/build.sh [BINARY...]    build all binaries, or only the ones named
#
# Binaries go to $KUBELOG_TESTENV_BIN (default ~/.cache/kubelog-testenv/bin). A binary
# is skipped when it is there and its stamp file (.NAME.stamp) names the same
# module version and go.sum and, for the linters, the same Go version: they load the
# project's packages with the go/types and standard library they were compiled
# with, so one built by an older Go rejects a newer Go's syntax. Builds run one
# after another (each already uses every core). From cold on 2 cores: about 2
# minutes to download 2.2 GB of modules, then 14 minutes and 4.5 GB of build cache
# (kube-apiserver alone 7 minutes) for 510 MB of binaries, and 3 minutes more for
# the two linters. Needs only Go, coreutils and flock (util-linux); prints the bin dir
# on stdout, progress on stderr.
set -euo pipefail

tools=$(cd "$(dirname "$0")" && pwd)
bin=${KUBELOG_TESTENV_BIN:-$HOME/.cache/kubelog-testenv/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)

# One build at a time per bin dir: test binaries of several packages may call this
# script at once.
exec 9>"$bin/.lock"
flock 9

# Static builds without debug info: no C toolchain needed, less disk and link time.
export CGO_ENABLED=0

# name  module-dir  main-module  package
targets=(
  "etcd etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3"
  "kube-apiserver k8s k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager k8s k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler k8s k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl k8s k8s.io/kubernetes k8s.io/kubernetes/cmd/kubectl"
  "kwok kwok sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok"
  "minio minio github.com/minio/minio github.com/minio/minio"
  "staticcheck staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck"
  "gosec gosec github.com/securego/gosec/v2 github.com/securego/gosec/v2/cmd/gosec"
)

log() { echo "build.sh: $*" >&2; }

# ldflags NAME VERSION: for Kubernetes, the version variables its release builds
# set. etcd and kwok carry theirs in the source; MinIO says DEVELOPMENT.GOGET, as
# after go install.
ldflags() {
  local flags="-s -w" v=$2
  case $1 in
  kube-* | kubectl)
    local major=${v#v}; major=${major%%.*}
    local minor=${v#v*.}; minor=${minor%%.*}
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      flags+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=archive"
    done
    ;;
  esac
  echo "$flags"
}

# kwok_manifests DIR: the CRDs and stages kwok runs with, copied from the module.
kwok_manifests() {
  local mod
  mod=$(cd "$tools/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$mod/kustomize" ] || { log "kwok module source not found"; return 1; }
  : >"$1/kwok-crds.yaml.tmp"
  for f in "$mod"/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml "$mod"/kustomize/crd/bases/kwok.x-k8s.io_clusterlogs.yaml; do
    { echo '---'; cat "$f"; } >>"$1/kwok-crds.yaml.tmp"
  done
  : >"$1/kwok-stages.yaml.tmp"
  for f in "$mod"/kustomize/stage/node/fast/*.yaml "$mod"/kustomize/stage/node/heartbeat/*.yaml \
    "$mod"/kustomize/stage/pod/fast/*.yaml; do
    case $f in *kustomization.yaml) continue ;; esac
    { echo '---'; cat "$f"; } >>"$1/kwok-stages.yaml.tmp"
  done
  mv "$1/kwok-crds.yaml.tmp" "$1/kwok-crds.yaml"
  mv "$1/kwok-stages.yaml.tmp" "$1/kwok-stages.yaml"
}

names=" ${targets[*]%% *} "
for a in "$@"; do
  [[ $names == *" $a "* ]] || { echo "usage: $0 [BINARY...]; BINARY is one of:$names" >&2; exit 2; }
done
want=" $* "
current=0
for t in "${targets[@]}"; do
  read -r name dir mod pkg <<<"$t"
  [ $# -eq 0 ] || [[ $want == *" $name "* ]] || continue
  version=$(cd "$tools/$dir" && go list -m -f '{{.Version}}' "$mod")
  sum=$(sha256sum "$tools/$dir/go.sum" | cut -d' ' -f1)
  stamp="$pkg@$version go.sum:$sum"
  case $name in staticcheck | gosec) stamp+=" $(go env GOVERSION)" ;; esac
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$stamp" ] &&
    { [ "$name" != kwok ] || [ -f "$bin/kwok-stages.yaml" ]; }; then
    current=$((current + 1))
    continue
  fi
  log "$name $version: building"
  start=$SECONDS
  (cd "$tools/$dir" && go build -trimpath -ldflags "$(ldflags "$name" "$version")" -o "$bin/.$name.tmp" "$pkg")
  mv "$bin/.$name.tmp" "$bin/$name"
  [ "$name" != kwok ] || kwok_manifests "$bin"
  echo "$stamp" >"$bin/.$name.stamp"
  log "$name $version: built in $((SECONDS - start))s"
done
[ "$current" -eq 0 ] || log "$current up to date in $bin"
echo "$bin"

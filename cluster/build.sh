#!/usr/bin/env bash
# Builds every binary of the cluster from the Go module proxy, at the versions pinned in
# versions.env, into $CLUSTER_CACHE/<component>-<version>/. A folder that is already
# complete is kept, so only a changed version is rebuilt.
#   build.sh                  every component of the cluster
#   build.sh skaffold tilt    only the named dev-loop tools (never built without being named)
. "$(dirname "$0")/lib.sh"

# build COMPONENT VERSION FUNCTION: run FUNCTION with $out set, unless already built.
build() {
  local name=$1 version=$2 fn=$3
  out=$(bin_dir "$name" "$version")
  if [ -f "$out/.complete" ]; then return 0; fi
  log "building $name $version"
  local start=$SECONDS
  rm -rf "$out" && mkdir -p "$out"
  "$fn"
  touch "$out/.complete"
  log "built $name $version in $((SECONDS - start))s"
}

# A module whose go.mod has replace directives cannot be built with `go install M@V`:
# copy it out of the module cache and build it as the main module.
# A nested module is not part of its parent's zip: a replace that points into one is dropped,
# so the release its go.mod requires comes from the proxy.
module_copy() {
  local info dir
  info=$(go mod download -json "$1") || { jq -r .Error <<<"$info" >&2; return 1; }
  dir=$(jq -r .Dir <<<"$info")
  rm -rf "$out/src" && cp -r "$dir" "$out/src" && chmod -R u+w "$out/src"
  (
    cd "$out/src"
    go mod edit -json | jq -r '.Replace[]? | select(.New.Path | startswith("./")) | .Old.Path + " " + .New.Path' |
      while read -r old new; do [ -d "$new" ] || go mod edit -dropreplace="$old"; done
  )
}

# release_time M@V: when the proxy says the release was made (`go mod download -json` leaves
# .Time null once the module is cached; the .info file keeps it).
release_time() { jq -r .Time "$(go mod download -json "$1" | jq -r .Info)"; }

kubernetes() {
  # k8s.io/kubernetes replaces its staging modules with local folders and requires them at
  # v0.0.0: a wrapper module requires it and points each staging module at v0.<minor>.<patch>.
  local work=$out/src staging=v0${KUBERNETES_VERSION#v1} gomod
  mkdir -p "$work" && cd "$work"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .GoMod)
  cat >go.mod <<MOD
module local/kubernetes-binaries

go 1.24.0

$(grep '^godebug' "$gomod")
MOD
  go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | while read -r m; do
    go mod edit -replace="$m=$m@$staging"
  done
  # Stamp the release as hack/lib/version.sh does (kubectl version, Helm's .Capabilities);
  # the build date is the release's, from the module proxy. The proxy gives no commit.
  local pkg=k8s.io/component-base/version client=k8s.io/client-go/pkg/version minor released
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  released=$(release_time "k8s.io/kubernetes@$KUBERNETES_VERSION")
  local stamp="-X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$released -X $pkg.gitCommit="
  stamp+=" ${stamp//$pkg/$client}"
  GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w $stamp" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubeadm
  # The pod sandbox's process: Kubernetes' own pause.c from the same module, linked statically.
  local kdir
  kdir=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .Dir)
  gcc -Os -static -o "$out/pause" "$kdir/build/pause/linux/pause.c"
  cd / && rm -rf "$work"
}

etcd() {
  # etcd's server module replaces its sibling modules too, but as a dependency its replace
  # lines are ignored and its require lines pin the matching releases.
  local work=$out/src
  mkdir -p "$work" && cd "$work"
  go mod init local/etcd-binary >/dev/null 2>&1
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  cd / && rm -rf "$work"
}

go_install() { GOBIN=$out go install -trimpath -ldflags "-s -w" "$@"; }

crictl() { go_install "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION"; }
coredns() { go_install "github.com/coredns/coredns@$COREDNS_VERSION"; }
kube_router() { go_install "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"; }
registry() { go_install "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"; }
kube_state_metrics() { go_install "k8s.io/kube-state-metrics/v2@$KUBE_STATE_METRICS_VERSION"; }
local_path() { go_install "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"; }

traefik() {
  module_copy "github.com/traefik/traefik/v3@$TRAEFIK_VERSION"
  # The dashboard's web assets are built with npm upstream and are not in the module; the
  # binary embeds whatever is in webui/static, and this cluster does not serve the dashboard.
  echo '<!doctype html><title>Traefik</title>' >"$out/src/webui/static/index.html"
  (cd "$out/src" && go build -trimpath -o "$out/traefik" \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" ./cmd/traefik)
  rm -rf "$out/src"
}

prometheus_operator() {
  module_copy "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
  local v=github.com/prometheus/common/version
  (cd "$out/src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -o "$out/" \
    -ldflags "-s -w -X $v.Version=${PROMETHEUS_OPERATOR_VERSION#v}" \
    ./cmd/operator ./cmd/prometheus-config-reloader)
  # The CRDs are part of the source tree; keep them beside the binaries.
  cp -r "$out/src/example/prometheus-operator-crd" "$out/crds"
  rm -rf "$out/src"
}

prometheus() {
  module_copy "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION"
  local v=github.com/prometheus/common/version
  (cd "$out/src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -o "$out/prometheus" \
    -ldflags "-s -w -X $v.Version=${PROMETHEUS_VERSION#v}" ./cmd/prometheus)
  rm -rf "$out/src"
}

traefik_chart() {
  local dir
  dir=$(go mod download -json "github.com/traefik/traefik-helm-chart@$TRAEFIK_CHART_VERSION+incompatible" | jq -r .Dir)
  cp -r "$dir/traefik" "$out/traefik" && chmod -R u+w "$out/traefik"
}

# The dev-loop tools build as the main module too (both have replace directives).
skaffold() {
  module_copy "github.com/GoogleContainerTools/skaffold/v2@$SKAFFOLD_VERSION"
  # `skaffold schema` embeds the schemas the way upstream's hack/generate-embedded-files.sh does.
  cp -r "$out/src/docs-v2/content/en/schemas" "$out/src/fs/assets/schemas_generated"
  local v=github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version released
  released=$(release_time "github.com/GoogleContainerTools/skaffold/v2@$SKAFFOLD_VERSION")
  (cd "$out/src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -tags "timetzdata osusergo netgo" \
    -ldflags "-s -w -X $v.version=$SKAFFOLD_VERSION -X $v.buildDate=$released" \
    -o "$out/skaffold" ./cmd/skaffold)
  rm -rf "$out/src"
}

tilt() {
  module_copy "github.com/tilt-dev/tilt@$TILT_VERSION"
  # buildx v0.32.1 was tagged twice upstream: the proxy and the checksum database hold the
  # first tag, Tilt's go.sum (v0.37.1 on; older releases are not served) the second, so Go
  # refuses the build ("checksum mismatch"). Drop that one line: the checksum database then
  # verifies the module as it does for every dependency without a go.sum line.
  sed -i '/^github.com\/docker\/buildx v0.32.1 h1:/d' "$out/src/go.sum"
  # The web UI is built with yarn upstream and is not in the module. A binary stamped as a
  # release serves its embedded UI and refuses to start without one, so embed a placeholder:
  # `tilt ci` and the terminal UI do not need it.
  echo '<!doctype html><title>Tilt</title><p>This build has no web UI: use the terminal UI.' \
    >"$out/src/pkg/assets/build/index.html"
  local released
  released=$(release_time "github.com/tilt-dev/tilt@$TILT_VERSION")
  # cgo: its Tiltfile language server (`tilt lsp`, starlark-lsp) parses with tree-sitter, in C.
  (cd "$out/src" && CGO_ENABLED=1 GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath \
    -ldflags "-s -w -X main.version=${TILT_VERSION#v} -X main.date=${released%%T*}" \
    -o "$out/tilt" ./cmd/tilt)
  rm -rf "$out/src"
}

if [ $# -gt 0 ]; then
  for name in "$@"; do
    case $name in
      skaffold) build skaffold "$SKAFFOLD_VERSION" skaffold ;;
      tilt) build tilt "$TILT_VERSION" tilt ;;
      *) echo "build.sh: unknown component $name (known: skaffold tilt)" >&2; exit 2 ;;
    esac
  done
  exit 0
fi

build kubernetes "$KUBERNETES_VERSION" kubernetes
build etcd "$ETCD_VERSION" etcd
build crictl "$CRI_TOOLS_VERSION" crictl
build coredns "$COREDNS_VERSION" coredns
build kube-router "$KUBE_ROUTER_VERSION" kube_router
build registry "$DISTRIBUTION_VERSION" registry
build local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" local_path
build traefik "$TRAEFIK_VERSION" traefik
build prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" prometheus_operator
build prometheus "$PROMETHEUS_VERSION" prometheus
build kube-state-metrics "$KUBE_STATE_METRICS_VERSION" kube_state_metrics
build traefik-chart "$TRAEFIK_CHART_VERSION" traefik_chart

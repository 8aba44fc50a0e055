#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what the tests need
# when it is missing (Debian packages redis-server, postgresql, chromium; Go
# modules; axe-core and oidc-provider from npm), then vets and runs every test with the race detector. The tests
# start their own Redis, PostgreSQL and Chromium on loopback with free ports.
# With CI=true a test whose server cannot be started fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start their own services; the tests use private ones.
  $sudo systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true
fi

# npm packages the tests use, each installed once into its own folder of
# the user cache: npm_once DIR FILE PACKAGE... installs the packages into DIR
# unless FILE (under DIR) is already there.
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsroom"
npm_once() {
  local dir=$1 file=$2; shift 2
  [ -e "$dir/$file" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: installing npm"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "test.sh: installing $* with npm"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$@" >/dev/null
}

# axe-core, injected by the browser tests to check the page against WCAG 2.1 AA.
axe_dir="$cache_dir/axe-core-4.14.1"
npm_once "$axe_dir" node_modules/axe-core/axe.min.js axe-core@4.14.1
export NEWSROOM_AXE_JS="$axe_dir/node_modules/axe-core/axe.min.js"

# oidc-provider (OpenID Certified), the independent identity provider the
# sign-in tests start with node (internal/oidctest.StartProvider).
oidcp_dir="$cache_dir/oidc-provider-9.13.3"
npm_once "$oidcp_dir" node_modules/oidc-provider/lib/index.js oidc-provider@9.13.3
export NEWSROOM_OIDC_PROVIDER="$oidcp_dir/node_modules/oidc-provider"

# The protocol clients other people wrote, that the MCP, A2A and AG-UI tests
# drive newsroom with (internal/nodeclient).
clients_dir="$cache_dir/protocol-clients-1"
npm_once "$clients_dir" node_modules/@ag-ui/client \
  @modelcontextprotocol/sdk@1.32.2 @a2a-js/sdk@1.3.0 @ag-ui/client@1.0.0
export NEWSROOM_PROTOCOL_CLIENTS="$clients_dir"

# Azurite, the Azure Storage emulator: the intake tests run Azure Storage
# queues against its queue service.
azurite_dir="$cache_dir/azurite-3.37.0"
npm_once "$azurite_dir" node_modules/.bin/azurite-queue azurite@3.37.0
export NEWSROOM_AZURITE_QUEUE="$azurite_dir/node_modules/.bin/azurite-queue"

go mod download
if ! go mod tidy -diff >/dev/null; then
  echo "test.sh: go.mod/go.sum are not tidy: run go mod tidy"; exit 1
fi
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# staticcheck at a pinned version; go run keeps the built tool in the build cache.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -race -shuffle=on -timeout 25m "$@" ./...
# The Helm chart's tests are a module of their own (Helm and the Kubernetes
# libraries stay out of the product's go.mod).
(cd deploy/helm/charttest && go mod tidy -diff >/dev/null && go vet ./... && go test -race -shuffle=on ./...)

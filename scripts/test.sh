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

# axe-core (npm), injected by the browser tests to check the page against
# WCAG 2.1 AA; installed once into the user cache.
axe_version=4.14.1
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsroom/axe-core-$axe_version"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: installing npm"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "test.sh: installing axe-core $axe_version with npm"
  mkdir -p "$axe_dir"
  npm install --prefix "$axe_dir" --no-save --no-audit --no-fund --loglevel=error "axe-core@$axe_version" >/dev/null
fi
export NEWSROOM_AXE_JS="$axe_dir/node_modules/axe-core/axe.min.js"

# oidc-provider (npm, OpenID Certified), the independent identity provider
# the sign-in tests start with node (internal/oidctest.StartProvider);
# installed once into the user cache, like axe-core.
oidcp_version=9.13.3
oidcp_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsroom/oidc-provider-$oidcp_version"
if [ ! -f "$oidcp_dir/node_modules/oidc-provider/lib/index.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "test.sh: installing oidc-provider $oidcp_version with npm"
  mkdir -p "$oidcp_dir"
  npm install --prefix "$oidcp_dir" --no-save --no-audit --no-fund --loglevel=error "oidc-provider@$oidcp_version" >/dev/null
fi
export NEWSROOM_OIDC_PROVIDER="$oidcp_dir/node_modules/oidc-provider"

# The protocol clients other people wrote, that the MCP, A2A and AG-UI tests
# drive newsroom with (internal/nodeclient); installed once into the user cache.
clients_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsroom/protocol-clients-1"
if [ ! -d "$clients_dir/node_modules/@ag-ui/client" ]; then
  echo "test.sh: installing the MCP, A2A and AG-UI clients with npm"
  mkdir -p "$clients_dir"
  npm install --prefix "$clients_dir" --no-save --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/sdk@1.32.2" "@a2a-js/sdk@1.3.0" "@ag-ui/client@1.0.0" >/dev/null
fi
export NEWSROOM_PROTOCOL_CLIENTS="$clients_dir"
# Azurite (npm), the Azure Storage emulator: the intake tests run Azure
# Storage queues against its queue service; installed once into the user cache.
azurite_version=3.37.0
azurite_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsroom/azurite-$azurite_version"
if [ ! -x "$azurite_dir/node_modules/.bin/azurite-queue" ]; then
  echo "test.sh: installing azurite $azurite_version with npm"
  mkdir -p "$azurite_dir"
  npm install --prefix "$azurite_dir" --no-save --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >/dev/null
fi
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

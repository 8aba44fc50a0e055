#!/usr/bin/env bash
# Builds a release of newsroom into dist/: archives of the binary for Linux,
# macOS and Windows on amd64 and arm64 (tar.gz, zip for Windows), their
# SHA-256 checksums, and a CycloneDX SBOM of the module. `newsroom --version`
# of each binary prints the version. The tag workflow
# (.github/workflows/release.yml) runs this same script; the container image
# is built from the Dockerfile with the same version.
#
#   scripts/release.sh --snapshot     # a local build, version 0.0.0-snapshot+<commit>
#   scripts/release.sh v1.2.3         # a tag's build (the workflow passes the tag)
#
# Not part of the test command: it builds six binaries (minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

version=""
case "${1:-}" in
  --snapshot) version="0.0.0-snapshot+$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" ;;
  v[0-9]*) version="$1" ;;
  *) echo "usage: scripts/release.sh --snapshot | vMAJOR.MINOR.PATCH" >&2; exit 2 ;;
esac

# The SBOM tool, at a pinned version (go run keeps it in the build cache).
cyclonedx="github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

rm -rf dist
mkdir -p dist
targets=${RELEASE_TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}
for target in $targets; do
  os=${target%/*}
  arch=${target#*/}
  name="newsroom_${version}_${os}_${arch}"
  dir="dist/$name"
  exe=newsroom
  [ "$os" = windows ] && exe=newsroom.exe
  echo "release.sh: building $name"
  mkdir -p "$dir"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "$dir/$exe" ./cmd/newsroom
  cp README.md "$dir/"
  if [ "$os" = windows ]; then
    (cd dist && zip -qr "$name.zip" "$name")
  else
    tar -C dist -czf "dist/$name.tar.gz" "$name"
  fi
  rm -rf "$dir"
done

echo "release.sh: SBOM"
go run "$cyclonedx" mod -licenses=false -json -output "dist/newsroom_${version}_sbom.cdx.json" .

(cd dist && sha256sum ./*.tar.gz ./*.zip ./*.cdx.json | sed 's| \./| |' > "newsroom_${version}_checksums.txt")

# The host's own binary says the version it was built as.
host="$(go env GOOS)/$(go env GOARCH)"
if [[ " $targets " == *" $host "* ]] && [ "$(go env GOOS)" != windows ]; then
  tmp=$(mktemp -d)
  tar -C "$tmp" -xzf "dist/newsroom_${version}_$(go env GOOS)_$(go env GOARCH).tar.gz"
  got=$("$tmp/newsroom_${version}_$(go env GOOS)_$(go env GOARCH)/newsroom" --version)
  rm -rf "$tmp"
  case "$got" in
    "newsroom $version "*) echo "release.sh: $got" ;;
    *) echo "release.sh: --version says '$got', want newsroom $version" >&2; exit 1 ;;
  esac
fi
echo "release.sh: dist/ holds $(ls dist | wc -l) files for $version"

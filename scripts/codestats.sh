#!/bin/sh
# codestats.sh prints the shape numbers of the code (longest functions,
# functions over 80 lines, cyclomatic complexity, the server type's methods
# and Config fields, import back-edges); see scripts/codestats.
set -eu
cd "$(dirname "$0")/.."
exec go run ./scripts/codestats "$@"

#!/usr/bin/env bash
# Deploys newsroom to one resource group with the ARM template beside this script.
#
# Usage: deploy/azure/deploy.sh [--what-if | --what-if-only]
#
# Settings come from the environment:
#   RESOURCE_GROUP         resource group to create or update (required)
#   LOCATION               region of the group and its resources (default: swedencentral)
#   ENVIRONMENT            dev | staging | production (default: staging)
#   IMAGE                  container image to run (default: containerImage from the parameters file)
#   ACR_NAME               registry the web app pulls from with its identity, granted AcrPull (optional)
#   ACR_RESOURCE_GROUP     resource group of ACR_NAME (default: RESOURCE_GROUP)
#   ALERT_EMAIL            address alerts go to (default: alertEmail from the parameters file)
#   PARAMETERS_FILE        parameters file (default: azuredeploy.parameters.json beside this script)
#   NEWSROOM_DATABASE_URL  URL of an external PostgreSQL, stored in Key Vault (secret, never printed); required
#                          unless PostgreSQL is deployed (DEPLOY_POSTGRES, or deployPostgres in the parameters
#                          file), when the app uses the deployed server and this is ignored
#   SECONDARY_LOCATION     region of a second Azure OpenAI account; the app then gets a deployment pool (optional)
#   DEPLOY_POSTGRES        true: a PostgreSQL flexible server, private and Entra-only (default: false)
#   DEPLOY_REDIS           true: Azure Cache for Redis behind a private endpoint (default: false)
#   MONTHLY_BUDGET_USD     monthly cost budget of the resource group (default: monthlyBudgetUsd from the parameters)
#
# --what-if shows the planned changes before deploying; --what-if-only shows them and stops.
# Progress goes to stderr; the only line on stdout is the web app's URL, so callers can capture it.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template_file="${script_dir}/azuredeploy.json"
parameters_file="${PARAMETERS_FILE:-${script_dir}/azuredeploy.parameters.json}"
location="${LOCATION:-swedencentral}"
environment_name="${ENVIRONMENT:-staging}"
what_if="none"

log() { printf 'deploy: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for arg in "$@"; do
  case "${arg}" in
    --what-if) what_if="before" ;;
    --what-if-only) what_if="only" ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument ${arg} (see --help)" ;;
  esac
done

[[ -n "${RESOURCE_GROUP:-}" ]] || die "RESOURCE_GROUP is not set"
case "${environment_name}" in
  dev | staging | production) ;;
  *) die "ENVIRONMENT must be dev, staging or production, not ${environment_name}" ;;
esac
[[ -f "${template_file}" ]] || die "template ${template_file} not found"
[[ -f "${parameters_file}" ]] || die "parameters file ${parameters_file} not found"

# file_bool prints the boolean value the parameters file gives a parameter ("" when it gives none).
# The file is JSON; this reads "NAME": {"value": true|false} with shell tools only (no jq).
file_bool() {
  { tr -d ' \t\r\n' <"${parameters_file}" | grep -o "\"$1\":{\"value\":[A-Za-z]*" || true; } | sed 's/.*://' | tail -n 1
}

# With PostgreSQL deployed by the template the app uses that server (signing in with its identity),
# so no database secret is needed; otherwise the external database's URL goes to Key Vault.
deploy_postgres="${DEPLOY_POSTGRES:-$(file_bool deployPostgres)}"
case "${deploy_postgres}" in
  true | True | TRUE) deploy_postgres=true ;;
  "" | false | False | FALSE) deploy_postgres=false ;;
  *) die "DEPLOY_POSTGRES must be true or false, not ${deploy_postgres}" ;;
esac
if [[ "${deploy_postgres}" == "true" ]]; then
  if [[ -n "${NEWSROOM_DATABASE_URL:-}" ]]; then
    log "NEWSROOM_DATABASE_URL is ignored: the template deploys PostgreSQL and the app uses it"
  fi
else
  [[ -n "${NEWSROOM_DATABASE_URL:-}" ]] ||
    die "NEWSROOM_DATABASE_URL is not set (the external database's URL, stored in Key Vault; or set DEPLOY_POSTGRES=true to deploy PostgreSQL)"
fi
command -v az >/dev/null || die "the Azure CLI (az) is not installed"

# json_string prints its argument as a JSON string literal, with bash builtins only.
json_string() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\r'/\\r}"
  s="${s//$'\n'/\\n}"
  if [[ "${s}" =~ [[:cntrl:]] ]]; then
    die "NEWSROOM_DATABASE_URL contains control characters"
  fi
  printf '"%s"' "${s}"
}

# The secret reaches az through a private file, never through argv (visible in the process
# list) or the terminal; printf is a builtin, so it does not show up in argv either.
secret_args=()
if [[ "${deploy_postgres}" != "true" ]]; then
  umask 077
  secret_dir="$(mktemp -d)"
  trap 'rm -rf "${secret_dir}"' EXIT
  secret_parameters="${secret_dir}/secret.parameters.json"
  secret_json="$(json_string "${NEWSROOM_DATABASE_URL}")"
  printf '{\n  "$schema": "%s",\n  "contentVersion": "1.0.0.0",\n  "parameters": {"databaseUrl": {"value": %s}}\n}\n' \
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#" \
    "${secret_json}" >"${secret_parameters}"
  unset secret_json
  secret_args=(--parameters "@${secret_parameters}")
fi

overrides=("environmentName=${environment_name}" "location=${location}")
[[ -n "${IMAGE:-}" ]] && overrides+=("containerImage=${IMAGE}")
[[ -n "${ACR_NAME:-}" ]] && overrides+=("containerRegistryName=${ACR_NAME}")
[[ -n "${ACR_RESOURCE_GROUP:-}" ]] && overrides+=("containerRegistryResourceGroup=${ACR_RESOURCE_GROUP}")
[[ -n "${ALERT_EMAIL:-}" ]] && overrides+=("alertEmail=${ALERT_EMAIL}")
[[ -n "${SECONDARY_LOCATION:-}" ]] && overrides+=("secondaryLocation=${SECONDARY_LOCATION}")
[[ -n "${DEPLOY_POSTGRES:-}" ]] && overrides+=("deployPostgres=${deploy_postgres}")
[[ -n "${DEPLOY_REDIS:-}" ]] && overrides+=("deployRedis=${DEPLOY_REDIS}")
[[ -n "${MONTHLY_BUDGET_USD:-}" ]] && overrides+=("monthlyBudgetUsd=${MONTHLY_BUDGET_USD}")

deployment_name="newsroom-${environment_name}-$(date -u +%Y%m%d%H%M%S)"
deployment_args=(
  --resource-group "${RESOURCE_GROUP}"
  --template-file "${template_file}"
  --parameters "@${parameters_file}"
  "${secret_args[@]}"
  --parameters "${overrides[@]}"
  --only-show-errors
)

log "resource group ${RESOURCE_GROUP} in ${location}"
az group create --name "${RESOURCE_GROUP}" --location "${location}" \
  --tags "application=newsroom" "environment=${environment_name}" \
  --only-show-errors --output none

if [[ "${what_if}" != "none" ]]; then
  log "what-if for ${deployment_name}"
  az deployment group what-if --name "${deployment_name}" "${deployment_args[@]}" >&2
  if [[ "${what_if}" == "only" ]]; then
    exit 0
  fi
fi

log "deploying ${deployment_name} (${environment_name})"
web_app_url="$(az deployment group create --name "${deployment_name}" "${deployment_args[@]}" \
  --query properties.outputs.webAppUrl.value --output tsv)"
[[ -n "${web_app_url}" ]] || die "deployment ${deployment_name} returned no webAppUrl output"
log "deployed ${deployment_name}"
printf '%s\n' "${web_app_url}"

#!/usr/bin/env bash
# Create or update the production Secrets from environment variables. Values
# are never printed, logged or passed on a command line (they go through
# private temporary files).
#
#   DATABASE_URL=... JWT_SECRET=... KAFKA_SASL_PASSWORD=... \
#   KAFKA_CA_CERT_FILE=ca-certificate.crt scripts/setup-secrets.sh
#
# Required: DATABASE_URL (with sslmode=require), JWT_SECRET (>= 32 chars),
#           KAFKA_SASL_PASSWORD.
# Optional: SMTP_URL (smtp:// or smtps://; reminder emails are sent only with it),
#           KAFKA_CA_CERT_FILE (the managed Kafka's CA certificate),
#           NAMESPACE (taskstream), KUBE_CONTEXT (current context).
set -euo pipefail
set +x # never trace: the values below are secrets

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

namespace=${NAMESPACE:-taskstream}

need kubectl "See https://kubernetes.io/docs/tasks/tools/"
need_env DATABASE_URL JWT_SECRET KAFKA_SASL_PASSWORD

[[ $DATABASE_URL =~ ^postgres(ql)?(\+asyncpg)?:// ]] ||
  die "DATABASE_URL must start with postgresql:// (value not shown)"
[[ $DATABASE_URL == *sslmode=require* ]] ||
  die "DATABASE_URL must include sslmode=require: managed PostgreSQL only accepts TLS (value not shown)"
((${#JWT_SECRET} >= 32)) ||
  die "JWT_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)"
if [[ -n ${KAFKA_CA_CERT_FILE:-} && ! -r $KAFKA_CA_CERT_FILE ]]; then
  die "KAFKA_CA_CERT_FILE=$KAFKA_CA_CERT_FILE is not a readable file"
fi

kc() {
  if [[ -n ${KUBE_CONTEXT:-} ]]; then
    kubectl --context "$KUBE_CONTEXT" "$@"
  else
    kubectl "$@"
  fi
}

umask 077
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
printf '%s' "$DATABASE_URL" >"$workdir/DATABASE_URL"
printf '%s' "$JWT_SECRET" >"$workdir/JWT_SECRET"
printf '%s' "$KAFKA_SASL_PASSWORD" >"$workdir/KAFKA_SASL_PASSWORD"
optional=()
if [[ -n ${SMTP_URL:-} ]]; then
  [[ $SMTP_URL =~ ^smtps?:// ]] || die "SMTP_URL must start with smtp:// or smtps:// (value not shown)"
  printf '%s' "$SMTP_URL" >"$workdir/SMTP_URL"
  optional+=(--from-file="$workdir/SMTP_URL")
fi

# create --dry-run | apply: creates the Secret or updates it in place.
kc create namespace "$namespace" --dry-run=client -o yaml | kc apply -f - >/dev/null
kc -n "$namespace" create secret generic taskstream-secrets \
  --from-file="$workdir/DATABASE_URL" \
  --from-file="$workdir/JWT_SECRET" \
  --from-file="$workdir/KAFKA_SASL_PASSWORD" \
  "${optional[@]}" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
info "secret/taskstream-secrets is up to date in namespace $namespace"

if [[ -n ${KAFKA_CA_CERT_FILE:-} ]]; then
  kc -n "$namespace" create secret generic taskstream-kafka-ca \
    --from-file=ca-certificate.crt="$KAFKA_CA_CERT_FILE" \
    --dry-run=client -o yaml | kc apply -f - >/dev/null
  info "secret/taskstream-kafka-ca is up to date in namespace $namespace"
elif ! kc -n "$namespace" get secret taskstream-kafka-ca >/dev/null 2>&1; then
  info "warning: no secret/taskstream-kafka-ca; production pods mount it. Set KAFKA_CA_CERT_FILE (DigitalOcean: Kafka cluster > Download CA certificate)"
fi

info "running workers read Secrets at start: kubectl -n $namespace rollout restart deployment -l app.kubernetes.io/name=taskstream"

#!/usr/bin/env bash
# Prints a deploy/.env for deploy/compose.yml: a fresh random value for every password and token
# the stack needs (compose reads deploy/.env by itself; the file is git-ignored).
#   cd deploy && ./kafka/make-env.sh > .env && chmod 600 .env
# Hex values: safe inside URLs, JAAS strings and SCRAM arguments without quoting.
set -euo pipefail
for name in KAFKA_ADMIN_PASSWORD KAFKA_INGEST_PASSWORD KAFKA_DATASETS_PASSWORD \
  KAFKA_QUANT_PASSWORD KAFKA_GATEWAY_PASSWORD POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD \
  METRICS_TOKEN; do
  printf '%s=%s\n' "$name" "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
done

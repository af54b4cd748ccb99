#!/usr/bin/env bash
# kafka-init: gives each Sextant service its own SCRAM login and the ACLs of acls.sh (generated
# from sextant_common.channels by scripts/kafka_acls.py). Idempotent: rerun it after changing a
# password or a channel. Runs in the apache/kafka image, as the super user admin:
#   compose: the kafka-init service (deploy/compose.yml), secrets under /run/secrets;
#   k8s:     the kafka-init Job (deploy/k8s/kafka-init.yaml), Secret sextant-kafka mounted.
# Reads <SECRETS_DIR>/kafka_<user>_password for admin and every service; the bootstrap address
# from KAFKA_BOOTSTRAP.
set -euo pipefail

KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
SECRETS_DIR=${SECRETS_DIR:-/run/secrets}
SERVICES=(ingest datasets quant gateway)
: "${KAFKA_BOOTSTRAP:?set KAFKA_BOOTSTRAP, e.g. kafka:9092}"

password() {  # password <user>: the secret, refused when it is a placeholder or unsafe to quote
  local value
  value=$(< "$SECRETS_DIR/kafka_$1_password")
  if [[ ! "$value" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
    echo "kafka_$1_password: need 16+ characters from [A-Za-z0-9_-] (openssl rand -hex 24)" >&2
    exit 2
  fi
  printf '%s' "$value"
}

# Every secret checked before anything changes (a failure inside "$(...)" in an argument would
# not stop the script).
declare -A passwords
for user in admin "${SERVICES[@]}"; do
  passwords[$user]=$(password "$user")
done

jaas="org.apache.kafka.common.security.scram.ScramLoginModule required"
jaas+=" username=\"admin\" password=\"${passwords[admin]}\";"
umask 077
client=$(mktemp)
trap 'rm -f "$client"' EXIT
cat > "$client" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=${jaas}
PROPERTIES

for user in "${SERVICES[@]}"; do
  "$KAFKA_HOME/bin/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$client" --alter --entity-type users --entity-name "$user" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=${passwords[$user]}]"
done

rules=0
add_acl() {  # add_acl USER RESOURCE NAME PATTERN OPERATION...: one allow rule (idempotent)
  local user=$1 resource=$2 name=$3 pattern=$4 operation operations=()
  shift 4
  for operation in "$@"; do operations+=(--operation "$operation"); done
  "$KAFKA_HOME/bin/kafka-acls.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$client" --add --allow-principal "User:$user" "${operations[@]}" \
    "--$resource" "$name" --resource-pattern-type "$pattern" > /dev/null
  rules=$((rules + 1))
}
# shellcheck source=acls.sh
source "$(dirname "$0")/acls.sh"
echo "kafka-init: SCRAM users for ${SERVICES[*]}; $rules ACLs in place"

#!/usr/bin/env bash
# `make run`: the whole mesh on this machine. Starts PostgreSQL and Kafka (scripts/infra.sh),
# creates each service's database (ds-service's holds the extraction rules, budget-service's
# the budgets, its projection of the expenses and the alerts) and a dev JWT key pair (once,
# kept in .data/keys), builds the release binaries, starts auth, user, expense, ds and budget
# services and the HTTP edge on :8080, waits until they are healthy and prints a worked
# example. Ctrl-C stops everything it started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
DATA="${ET_DATA_DIR:-$ROOT/.data}"
LOGS="$DATA/logs"
KEYS="$DATA/keys"
EDGE_PORT="${EDGE_PORT:-8080}"
mkdir -p "$LOGS" "$KEYS"

say() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

# The tools the dev key and the printed example use (Debian packages).
missing=()
for tool in curl jq openssl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo_cmd apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    say "could not install ${missing[*]}; install them to try the examples"
fi

scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"

# Dev signing key: generated once, reused across runs so issued tokens stay valid.
if [ ! -s "$KEYS/jwt.key.pem" ]; then
  say "creating a dev JWT key pair in $KEYS"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/jwt.key.pem" 2>/dev/null
  openssl pkey -in "$KEYS/jwt.key.pem" -pubout -out "$KEYS/jwt.pub.pem"
  chmod 600 "$KEYS/jwt.key.pem"
fi

# dir     package          binary         port   database
SERVICES=(
  "auth    auth-service    auth-service    50051  et_auth"
  "user    user-service    user-service    50052  et_user"
  "expense expense-service expense-service 50053  et_expense"
  "ds      ds              ds-service      50054  et_ds"
  "budget  budget-service  budget-service  50055  et_budget"
)

# A service is started when its crate declares its binary (parts still being built are skipped).
present=()
for line in "${SERVICES[@]}"; do
  read -r dir _ bin _ _ <<<"$line"
  if [ -f "services/$dir/Cargo.toml" ] && grep -A1 '^\[\[bin\]\]' "services/$dir/Cargo.toml" | grep -q "name = \"$bin\""; then
    present+=("$line")
  else
    say "skipping $bin: not in this checkout yet"
  fi
done
have_edge=0
[ -f gateway/edge/Cargo.toml ] && have_edge=1

say "building release binaries (the first build takes a few minutes)"
bins=()
for line in "${present[@]}"; do read -r _ _ bin _ _ <<<"$line"; bins+=(--bin "$bin"); done
[ $have_edge = 1 ] && bins+=(--bin edge)
cargo build --release --workspace "${bins[@]}" >&2

pids=()
stop_all() {
  trap - INT TERM EXIT
  say "stopping the mesh"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  say "stopped (PostgreSQL and Kafka keep running: make infra-down stops them)"
}
trap stop_all INT TERM EXIT

common_env=(
  KAFKA_BROKERS="$KAFKA_BROKERS"
  JWT_PUBLIC_KEY_FILE="$KEYS/jwt.pub.pem"
  JWT_PRIVATE_KEY_FILE="$KEYS/jwt.key.pem"
  JWT_KEY_ID="dev-1"
  USER_SERVICE_ADDR="http://127.0.0.1:50052"
  RUST_LOG="${RUST_LOG:-info}"
)

for line in "${present[@]}"; do
  read -r _ _ pkg port db <<<"$line"
  envs=("${common_env[@]}" GRPC_ADDR="127.0.0.1:$port")
  if [ "$db" != "-" ]; then
    psql "$ET_PG_URL/postgres" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || psql "$ET_PG_URL/postgres" -qc "CREATE DATABASE $db" >/dev/null
    envs+=(DATABASE_URL="$ET_PG_URL/$db")
  fi
  say "starting $pkg on 127.0.0.1:$port (log: $LOGS/$pkg.log)"
  env "${envs[@]}" "target/release/$pkg" >"$LOGS/$pkg.log" 2>&1 &
  pids+=($!)
done

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  say "$name did not open port $port; see $LOGS"; return 1
}
for line in "${present[@]}"; do read -r _ _ pkg port _ <<<"$line"; wait_port "$port" "$pkg"; done

if [ $have_edge = 1 ]; then
  # The checked-in edge config trusts the test key; locally the edge must trust the dev key
  # auth-service signs with. Same file otherwise.
  sed -e "s|public_key_file: .*|public_key_file: $KEYS/jwt.pub.pem|" \
      -e "s|proto_root: .*|proto_root: $ROOT/proto|" gateway/edge/edge.yaml >"$DATA/edge.yaml"
  say "starting the edge on :$EDGE_PORT (log: $LOGS/edge.log)"
  env "${common_env[@]}" EDGE_LISTEN="0.0.0.0:$EDGE_PORT" target/release/edge --config "$DATA/edge.yaml" \
    >"$LOGS/edge.log" 2>&1 &
  pids+=($!)
  wait_port "$EDGE_PORT" edge
  for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$EDGE_PORT/healthz" >/dev/null && break
    sleep 0.5
  done
fi

metrics_list=""
for line in "${present[@]}"; do
  read -r _ _ pkg port _ <<<"$line"
  metrics_list+="  $pkg: http://127.0.0.1:$((port + 1000))/metrics"$'\n'
done
[ $have_edge = 1 ] && metrics_list+="  edge: http://127.0.0.1:9080/metrics"

cat >&2 <<TXT

The mesh is up. Try it (JSON through the edge on :$EDGE_PORT):

  # sign up; keep the access token
  TOKEN=\$(curl -s localhost:$EDGE_PORT/v1/auth/signup -d '{"email":"asha@example.com","password":"correct horse battery","display_name":"Asha"}' | jq -r .access_token)

  # your profile
  curl -s localhost:$EDGE_PORT/v1/users/me -H "Authorization: Bearer \$TOKEN"

  # a sentence becomes an expense
  curl -s localhost:$EDGE_PORT/v1/extractions -H "Authorization: Bearer \$TOKEN" -d '{"text":"spent 250 rupees on lunch at Subway yesterday"}'

  # list and summarise
  curl -s "localhost:$EDGE_PORT/v1/expenses?page_size=10" -H "Authorization: Bearer \$TOKEN"
  curl -s "localhost:$EDGE_PORT/v1/expense-summary?group_by=CATEGORY" -H "Authorization: Bearer \$TOKEN"

  # teach the extractor: correct a category, and the next text from that merchant comes back
  # corrected, with the rule's id (ds-service learns from the ExpenseChanged event)
  ID=\$(curl -s localhost:$EDGE_PORT/v1/extractions -H "Authorization: Bearer \$TOKEN" -d '{"text":"paid 340 to Kumaran Stores"}' | jq -r .expense.id)
  sleep 1   # until expense-service has stored it
  curl -s -X PATCH localhost:$EDGE_PORT/v1/expenses/\$ID -H "Authorization: Bearer \$TOKEN" -d '{"category":"GROCERIES","update_mask":["category"]}'
  curl -s localhost:$EDGE_PORT/v1/extractions -H "Authorization: Bearer \$TOKEN" -d '{"text":"Kumaran Stores 125","dry_run":true}'
  curl -s localhost:$EDGE_PORT/v1/extraction-rules -H "Authorization: Bearer \$TOKEN"

  # or tell it directly
  curl -s localhost:$EDGE_PORT/v1/extraction-rules -H "Authorization: Bearer \$TOKEN" -d '{"merchant_pattern":"blue tokai","merchant":"Blue Tokai","category":"FOOD_AND_DRINK"}'

  # a monthly food budget; spending past 80% raises one alert (budget-service follows the
  # expenses through the ExpenseChanged events)
  curl -s localhost:$EDGE_PORT/v1/budgets -H "Authorization: Bearer \$TOKEN" -d '{"name":"Food","amount":"1000","currency":"INR","category":"FOOD_AND_DRINK","period":"MONTHLY"}'
  curl -s localhost:$EDGE_PORT/v1/extractions -H "Authorization: Bearer \$TOKEN" -d '{"text":"dinner at Toit 600 rupees"}'
  sleep 1   # until the change reached budget-service
  curl -s localhost:$EDGE_PORT/v1/budgets -H "Authorization: Bearer \$TOKEN"
  curl -s localhost:$EDGE_PORT/v1/alerts -H "Authorization: Bearer \$TOKEN"

Metrics (Prometheus text, GET /metrics; the gRPC port + 1000):
$metrics_list
  e.g. curl -s localhost:51054/metrics | grep ds_extractions_total

Logs: $LOGS   Stop: Ctrl-C
TXT

# Stay in the foreground until Ctrl-C or a service dies.
wait -n "${pids[@]}" || true
say "a service exited; see $LOGS"

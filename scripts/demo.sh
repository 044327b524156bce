#!/usr/bin/env bash
# `make demo`: the worked example of `make run`, a correction being learned and a budget's
# alert included, run for you. Uses the mesh on :8080 when it is already up (`make run` in another terminal); otherwise
# starts it (scripts/run.sh), runs the example and stops it again. Each step prints the
# request and the JSON answer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
EDGE_PORT="${EDGE_PORT:-8080}"
EDGE="http://127.0.0.1:$EDGE_PORT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31m[demo] %s\033[0m\n' "$*" >&2; exit 1; }
# field NAME < json: one top-level (or dotted) field of a JSON answer.
field() {
  python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print(v if v is not None else "")' "$1"
}
pretty() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=2, ensure_ascii=False))'; }

started=""
cleanup() {
  if [ -n "$started" ]; then
    kill -TERM "$started" 2>/dev/null || true
    wait "$started" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

if ! curl -fs "$EDGE/healthz" >/dev/null 2>&1; then
  say "starting the mesh (scripts/run.sh; log: .data/logs/run.log)"
  mkdir -p .data/logs
  EDGE_PORT="$EDGE_PORT" scripts/run.sh >.data/logs/run.log 2>&1 &
  started=$!
  for _ in $(seq 1 1200); do
    curl -fs "$EDGE/healthz" >/dev/null 2>&1 && break
    kill -0 "$started" 2>/dev/null || { tail -20 .data/logs/run.log >&2; die "scripts/run.sh exited"; }
    sleep 0.5
  done
  curl -fs "$EDGE/healthz" >/dev/null || die "the mesh did not become healthy; see .data/logs"
fi

# call METHOD PATH [BODY] — prints the request and the answer, leaves the answer in $ANSWER.
call() {
  local method=$1 path=$2 body=${3:-}
  local args=(-s -X "$method" "$EDGE$path" -w '\n%{http_code}')
  [ -n "${TOKEN:-}" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  printf '$ curl -X %s %s%s\n' "$method" "$path" "${body:+ -d '$body'}" >&2
  local out status
  out=$(curl "${args[@]}")
  status=${out##*$'\n'}
  ANSWER=${out%$'\n'*}
  printf 'HTTP %s\n' "$status" >&2
  [ -n "$ANSWER" ] && printf '%s\n' "$ANSWER" | pretty >&2
  [ "${status:0:1}" = 2 ] || die "$method $path answered $status"
}

EMAIL="demo-$(date +%s)-$RANDOM@example.com"
say "1. sign up"
TOKEN="" call POST /v1/auth/signup "{\"email\":\"$EMAIL\",\"password\":\"correct horse battery\",\"display_name\":\"Asha\"}"
TOKEN=$(field access_token <<<"$ANSWER")

say "2. the profile (created from the UserRegistered event)"
for _ in $(seq 1 50); do
  curl -fs "$EDGE/v1/users/me" -H "Authorization: Bearer $TOKEN" >/dev/null && break
  sleep 0.2
done
call GET /v1/users/me

say "3. she pays in rupees, in India"
call PATCH /v1/users/me '{"default_currency":"INR","timezone":"Asia/Kolkata","update_mask":["default_currency","timezone"]}'

say "4. a sentence becomes an expense"
call POST /v1/extractions '{"text":"spent 250 rupees on lunch at Subway yesterday"}'
ID=$(field expense.id <<<"$ANSWER")
call POST /v1/extractions '{"text":"Rs.1,299.00 debited from a/c **1234 to VPA swiggy@ybl (UPI Ref No 412345678901)"}'
call POST /v1/extractions '{"text":"uber to the airport 640 today"}'

say "5. a manual entry"
call POST /v1/expenses "{\"amount\":\"12000\",\"currency\":\"INR\",\"merchant\":\"Landlord\",\"category\":\"HOUSING\",\"occurred_on\":\"$(date +%F)\",\"note\":\"November rent\"}"

say "6. the list, newest first (expense-service consumed the ExpenseExtracted events)"
for _ in $(seq 1 50); do
  n=$(curl -s "$EDGE/v1/expenses" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("expenses",[])))')
  [ "$n" -ge 4 ] && break
  sleep 0.2
done
call GET "/v1/expenses?page_size=10"

say "7. fix the first one: it was dinner, 275"
call PATCH "/v1/expenses/$ID" '{"amount":"275","note":"with Ravi","update_mask":["amount","note"]}'

say "8. totals by category"
call GET "/v1/expense-summary?group_by=CATEGORY"

say "9. teach the extractor: Kumaran Stores is a grocer"
call POST /v1/extractions '{"text":"paid 340 to Kumaran Stores"}'
KID=$(field expense.id <<<"$ANSWER")
for _ in $(seq 1 50); do
  curl -fs "$EDGE/v1/expenses/$KID" -H "Authorization: Bearer $TOKEN" >/dev/null && break
  sleep 0.2
done
call PATCH "/v1/expenses/$KID" '{"category":"GROCERIES","update_mask":["category"]}'
# ds-service learns from the ExpenseChanged event; the next text of that merchant says so.
for _ in $(seq 1 50); do
  rule=$(curl -s "$EDGE/v1/extractions" -H "Authorization: Bearer $TOKEN" -d '{"text":"Kumaran Stores 125","dry_run":true}' | field rule_id)
  [ -n "$rule" ] && break
  sleep 0.2
done
call POST /v1/extractions '{"text":"Kumaran Stores 125","dry_run":true}'
[ -n "$(field rule_id <<<"$ANSWER")" ] || die "the correction was not learned"
call GET /v1/extraction-rules

say "10. a monthly budget for going out: 1000 rupees, alerts at 80% and 100% (the default)"
BUDGET_REQUEST=$(python3 -c 'import uuid; print(uuid.uuid4())')
BUDGET_BODY="{\"name\":\"Going out\",\"amount\":\"1000\",\"currency\":\"INR\",\"category\":\"ENTERTAINMENT\",\"period\":\"MONTHLY\",\"request_id\":\"$BUDGET_REQUEST\"}"
call POST /v1/budgets "$BUDGET_BODY"
BID=$(field id <<<"$ANSWER")
# A retry with the same request_id (say the first answer was lost) is the same budget.
call POST /v1/budgets "$BUDGET_BODY"
[ "$(field id <<<"$ANSWER")" = "$BID" ] || die "the retried create made a second budget"

say "11. she types what she spends on going out; past 80% the budget warns, once"
# budget_state N STATE: wait until the budget counts N expenses (budget-service follows them
# through expense.expense-changed.v1), then check its state.
budget_state() {
  for _ in $(seq 1 100); do
    n=$(curl -s "$EDGE/v1/budgets/$BID" -H "Authorization: Bearer $TOKEN" | field status.expense_count)
    [ "$n" = "$1" ] && break
    sleep 0.2
  done
  call GET "/v1/budgets/$BID"
  [ "$(field status.state <<<"$ANSWER")" = "$2" ] || die "expected the budget to be $2"
}
call POST /v1/extractions '{"text":"movie tickets at PVR 450 today"}'
budget_state 1 UNDER
call POST /v1/extractions '{"text":"concert at BookMyShow 400 rupees today"}'
budget_state 2 WARNING
call GET /v1/alerts
[ "$(field alerts.0.percent_threshold <<<"$ANSWER")" = 80 ] || die "expected the 80% alert"

say "12. a refusal: an OTP is not an expense"
printf '$ curl -X POST /v1/extractions -d {"text":"Your OTP is 482913"}\n' >&2
curl -s "$EDGE/v1/extractions" -H "Authorization: Bearer $TOKEN" -d '{"text":"Your OTP is 482913. Do not share it."}' -w '\nHTTP %{http_code}\n' >&2

say "done: $EMAIL"

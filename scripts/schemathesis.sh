#!/usr/bin/env bash
# Fuzz the REST API from its own OpenAPI document: a fresh server, a fresh
# workspace and token, then schemathesis. Revoking tokens is left out: the
# fuzzer learns ids from responses and would revoke its own credential. Passes when no request gets a 5xx
# and every response matches the documented schema.
# Usage: scripts/schemathesis.sh [path/to/kith] [seconds]
set -euo pipefail
bin=${1:-target/debug/kith}
budget=${2:-120}
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
export KITH_API_RATE_LIMIT=0 KITH_LOG=warn
unset KITH_DATABASE_URL
"$bin" --data "$data" serve --listen "127.0.0.1:$port" 2>"$data/serve.log" &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
printf 'fuzzing password 123\n' > "$data/pw"
org=$("$bin" --data "$data" admin create-user --email fuzz@example.com --name Fuzz --org-name Fuzz --password-file "$data/pw" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["org_id"])')
token=$("$bin" --data "$data" admin create-token --email fuzz@example.com --org "$org" --name fuzz)
# The coverage phase is left out: on this CI's Python 3.11 it crashes inside
# hypothesis (`SystemError: AST constructor recursion depth mismatch` while
# hypothesis parses a module's source to describe a filtered strategy, on
# GET /api/v1/companies, every run) — a crash of the tool, not a finding
# about the API. Examples and random fuzzing still cover every operation.
status=0
schemathesis run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance \
  --phases examples,fuzzing \
  --exclude-path '/api/v1/tokens/{id}' \
  --max-time "$budget" --workers 2 --max-failures 20 || status=$?
if grep -q ' ERROR ' "$data/serve.log"; then
  echo "server logged errors during fuzzing:"; grep ' ERROR ' "$data/serve.log" | head -20; status=1
fi
if [ -n "${FUZZ_DEBUG:-}" ]; then curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/me"; echo; curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/members"; echo; fi
exit $status

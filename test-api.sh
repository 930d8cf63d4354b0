#!/usr/bin/env bash
# test-api.sh — smoke-test a running payflow against its wire contract (docs: DESIGN §1).
#
# Usage:
#   ./test-api.sh                                    # payflow on http://127.0.0.1:8000
#   BASE_URL=http://localhost:8000 ./test-api.sh     # e.g. after `docker compose up --build`
#
# Environment:
#   BASE_URL        where payflow listens            (default http://127.0.0.1:8000)
#   WEBHOOK_SECRET  the server's webhook secret, i.e. PAYFLOW_WEBHOOKS__SECRET
#                                                    (default super_secret_change_me)
#   WAIT_SECONDS    how long to wait for the first order to become Paid (default 30;
#                   the simulated processing delay defaults to 2 s)
#
# Needs only bash, curl, openssl and coreutils/grep/sed (no jq, no python). Every check
# prints "✓ <what>" or "✗ <what> (expected …, got …)"; the script exits 0 only if all
# passed, 1 if any failed and 2 if payflow cannot be reached at all.
#
# It creates two orders with fresh, unique order numbers and idempotency keys, so it can
# be run any number of times against the same database. The first order is left to the
# worker (its own signed webhook must turn it Paid); the second one is paid by a webhook
# this script signs itself, before the worker's simulated delay elapses. With
# PAYFLOW_PROCESSING__DELAY_SECONDS=0 the worker may win that race, and the first
# webhook check then reports "ignored" instead of "applied".
set -u

BASE_URL="${BASE_URL:-http://127.0.0.1:8000}"
BASE_URL="${BASE_URL%/}"
WEBHOOK_SECRET="${WEBHOOK_SECRET:-super_secret_change_me}"
WAIT_SECONDS="${WAIT_SECONDS:-30}"
case "$WAIT_SECONDS" in
    '' | *[!0-9]*) echo "test-api.sh: WAIT_SECONDS must be a whole number of seconds, got '$WAIT_SECONDS'" >&2; exit 2 ;;
esac
for tool in curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "test-api.sh: '$tool' is required but not installed" >&2; exit 2; }
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/payflow-test-api.XXXXXX")" || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    GREEN=$'\033[32m' RED=$'\033[31m' BOLD=$'\033[1m' RESET=$'\033[0m'
else
    GREEN='' RED='' BOLD='' RESET=''
fi

PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); printf '%s✓%s %s\n' "$GREEN" "$RESET" "$1"; }
# fail WHAT EXPECTED GOT
fail() { FAILED=$((FAILED + 1)); printf '%s✗%s %s (expected %s, got %s)\n' "$RED" "$RESET" "$1" "$2" "$3"; }

# --- HTTP -------------------------------------------------------------------------------
# req METHOD PATH [curl args…]: performs one request. Afterwards CODE holds the status
# ("000" if curl failed; CURL_ERROR says why), $TMP/headers the response headers and
# $TMP/body the raw body bytes.
CODE=000
CURL_ERROR=''
req() {
    local method=$1 path=$2
    shift 2
    : >"$TMP/headers"
    : >"$TMP/body"
    # "Expect:" stops curl from sending Expect: 100-continue, whose interim response
    # would otherwise land in the header dump too.
    if CODE="$(curl -sS --connect-timeout 5 --max-time 15 -X "$method" -H 'Expect:' \
        -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' "$@" "$BASE_URL$path" 2>"$TMP/curl-err")"; then
        CURL_ERROR=''
    else
        CODE=000
        CURL_ERROR="$(tr -d '\r' <"$TMP/curl-err" | tr '\n' ' ' | sed 's/[[:space:]]*$//')"
    fi
}

# header NAME: the value of the last response header called NAME (case-insensitive).
header() {
    grep -i "^$1:" "$TMP/headers" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//' | tr -d '\r'
}

# The body with all whitespace removed, so fragments like "status":"Pending" match even
# if a server ever pretty-printed; payflow itself already answers compact JSON.
compact_body() { tr -d ' \t\r\n' <"$TMP/body"; }

# A short, one-line excerpt of the response for failure messages.
got() {
    if [ "$CODE" = 000 ]; then
        printf 'no response: %s' "${CURL_ERROR:-curl failed}"
    else
        printf 'HTTP %s %s' "$CODE" "$(head -c 300 "$TMP/body" | tr '\r\n' '  ')"
    fi
}

# has FRAGMENT: the compact body contains FRAGMENT as a complete JSON member, i.e.
# followed by "," "}" or "]" (so "amount":149.99 does not match "amount":149.991).
has() {
    compact_body | grep -qF -e "$1," -e "$1}" -e "$1]"
}

# content_type_is TYPE: the media type (parameters ignored) equals TYPE.
content_type_is() {
    local ct
    ct="$(header content-type | sed 's/;.*//' | tr -d ' ' | tr '[:upper:]' '[:lower:]')"
    [ "$ct" = "$1" ]
}

# --- checks -----------------------------------------------------------------------------
expect_status() { # WHAT STATUS
    if [ "$CODE" = "$2" ]; then pass "$1"; else fail "$1" "HTTP $2" "$(got)"; fi
}

expect_header() { # WHAT NAME VALUE
    local value
    value="$(header "$2")"
    if [ "$value" = "$3" ]; then pass "$1"; else fail "$1" "$2: $3" "${value:-no $2 header}"; fi
}

expect_content_type() { # WHAT TYPE
    if content_type_is "$2"; then
        pass "$1"
    else
        local ct
        ct="$(header content-type)"
        fail "$1" "Content-Type $2" "${ct:-no Content-Type header}"
    fi
}

expect_body() { # WHAT FRAGMENT
    if has "$2"; then pass "$1"; else fail "$1" "body with $2" "$(got)"; fi
}

# expect_json WHAT STATUS FRAGMENT…: status, application/json and every fragment, as one check.
expect_json() {
    local what=$1 status=$2 fragment
    shift 2
    if [ "$CODE" != "$status" ]; then fail "$what" "HTTP $status" "$(got)"; return; fi
    if ! content_type_is application/json; then
        fail "$what" "Content-Type application/json" "$(header content-type)"
        return
    fi
    for fragment in "$@"; do
        if ! has "$fragment"; then fail "$what" "body with $fragment" "$(got)"; return; fi
    done
    pass "$what"
}

# expect_problem WHAT STATUS SLUG: an RFC 9457 problem whose type URI ends in /SLUG.
expect_problem() {
    local what=$1 status=$2 slug=$3
    if [ "$CODE" != "$status" ]; then fail "$what" "HTTP $status …/$slug" "$(got)"; return; fi
    if ! content_type_is application/problem+json; then
        fail "$what" "Content-Type application/problem+json" "$(header content-type)"
        return
    fi
    if ! compact_body | grep -qE "\"type\":\"[^\"]*/$slug\""; then
        fail "$what" "\"type\" ending in /$slug" "$(got)"
        return
    fi
    pass "$what"
}

# --- helpers ----------------------------------------------------------------------------
random_hex() { openssl rand -hex "$1"; }
new_order_number() { printf 'ORD-%s-%s' "$(date +%s)" "$(random_hex 4)"; }
new_key() { printf 'test-api-%s' "$(random_hex 16)"; }
order_body() { # ORDER_NUMBER AMOUNT — AMOUNT is inserted verbatim (a JSON number or string)
    printf '{"orderNumber":"%s","amount":%s,"currency":"USD"}' "$1" "$2"
}

# create_order KEY BODY: POST /api/Orders with the capital O that existing clients send.
create_order() {
    req POST /api/Orders -H 'Content-Type: application/json' -H "Idempotency-Key: $1" --data-binary "$2"
}

# sign SECRET TIMESTAMP BODY: the payflow scheme, hex HMAC-SHA256 over "t=<unix>." + body.
# openssl prints "…(stdin)= <hex>" (or bare hex on some builds); keep only the hex.
sign() {
    printf '%s' "t=$2.$3" | openssl dgst -sha256 -hmac "$1" | sed 's/^.*= //'
}

# send_webhook BODY [SIGNATURE_HEADER_VALUE]: POST to the receiver; no header if omitted.
send_webhook() {
    if [ $# -ge 2 ]; then
        req POST /api/webhooks/payments -H 'Content-Type: application/json' -H "X-Signature: $2" --data-binary "$1"
    else
        req POST /api/webhooks/payments -H 'Content-Type: application/json' --data-binary "$1"
    fi
}

event_body() { # EVENT_ID ORDER_NUMBER
    printf '{"id":"%s","type":"payment.succeeded","createdAt":"%s","data":{"orderNumber":"%s","amount":149.99,"currency":"USD"}}' \
        "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2"
}

# order_status: the "status" of the order in the last response body, if any.
order_status() { compact_body | sed -n 's/.*"status":"\([A-Za-z]*\)".*/\1/p'; }

# --- 0. reachability and health --------------------------------------------------------
printf '%spayflow API checks against %s%s\n' "$BOLD" "$BASE_URL" "$RESET"

req GET /health/live
if [ "$CODE" = 000 ]; then
    printf '%s✗%s payflow is not reachable at %s (%s)\n' "$RED" "$RESET" "$BASE_URL" "${CURL_ERROR:-curl failed}" >&2
    echo "  Start it first (./scripts/serve, or docker compose up --build) or set BASE_URL." >&2
    exit 2
fi
expect_status "GET /health/live → 200" 200
req GET /health/ready
expect_status "GET /health/ready → 200 (database and worker up)" 200

# --- 1. orders and idempotency (§1, §1.1) ----------------------------------------------
ORDER1="$(new_order_number)"
KEY1="$(new_key)"
BODY1="$(order_body "$ORDER1" 149.99)"

create_order "$KEY1" "$BODY1"
expect_status "POST /api/Orders → 201 Created" 201
expect_header "create → Location: /api/orders/$ORDER1" Location "/api/orders/$ORDER1"
expect_content_type "create → Content-Type application/json" application/json
expect_body 'create → body has "status":"Pending"' '"status":"Pending"'
expect_body 'create → body has "amount":149.99' '"amount":149.99'
cp "$TMP/body" "$TMP/create-body"
FIRST_CODE="$CODE"
FIRST_LOCATION="$(header Location)"

create_order "$KEY1" "$BODY1"
expect_status "replay same key and body → same status ($FIRST_CODE)" "$FIRST_CODE"
if cmp -s "$TMP/create-body" "$TMP/body"; then
    pass "replay → byte-identical body"
else
    fail "replay → byte-identical body" "$(head -c 300 "$TMP/create-body")" "$(got)"
fi
expect_header "replay → Idempotent-Replayed: true" Idempotent-Replayed true
expect_header "replay → same Location header" Location "$FIRST_LOCATION"

create_order "$KEY1" "$(order_body "$ORDER1" 150.5)"
expect_problem "same key, different body → 422 idempotency-key-reused" 422 idempotency-key-reused

req POST /api/Orders -H 'Content-Type: application/json' --data-binary "$(order_body "$(new_order_number)" 149.99)"
expect_problem "no Idempotency-Key → 400 idempotency-key-missing" 400 idempotency-key-missing

create_order "$(new_key)" "$(order_body "$(new_order_number)" '"149.99"')"
expect_problem "amount as a string → 400 validation-error" 400 validation-error
if compact_body | grep -qF '"errors":['; then
    pass "validation error → has an \"errors\" list"
else
    fail "validation error → has an \"errors\" list" 'body with "errors":[' "$(got)"
fi

# --- 2. reading orders ------------------------------------------------------------------
req GET "/api/orders/$ORDER1"
expect_json "GET /api/orders/$ORDER1 → 200" 200 "\"orderNumber\":\"$ORDER1\""

req GET "/api/orders/ORD-unknown-$(random_hex 8)"
expect_problem "GET unknown order → 404 not-found" 404 not-found

req GET /api/orders
if [ "$CODE" = 200 ] && [ "$(compact_body | head -c 1)" = '[' ]; then
    pass "GET /api/orders → 200 with a JSON array"
else
    fail "GET /api/orders → 200 with a JSON array" "HTTP 200 and a body starting with [" "$(got)"
fi

# --- 3. webhook receiver (§1.3) ---------------------------------------------------------
# A second order, paid right away by a webhook signed here, so the worker's own webhook
# for the first order is left alone.
ORDER2="$(new_order_number)"
create_order "$(new_key)" "$(order_body "$ORDER2" 149.99)"
expect_status "create second order $ORDER2 → 201" 201

EVENT_ID="evt_test_$(random_hex 8)"
EVENT="$(event_body "$EVENT_ID" "$ORDER2")"
TS="$(date +%s)"
SIGNATURE="t=$TS,v1=$(sign "$WEBHOOK_SECRET" "$TS" "$EVENT")"

send_webhook "$EVENT" "$SIGNATURE"
expect_json "signed webhook → 200 applied" 200 '"received":true' '"outcome":"applied"' "\"eventId\":\"$EVENT_ID\""
if [ "$CODE" = 401 ]; then
    echo "  hint: WEBHOOK_SECRET must equal the server's PAYFLOW_WEBHOOKS__SECRET"
fi

send_webhook "$EVENT" "$SIGNATURE"
expect_json "same webhook again → 200 duplicate" 200 '"received":true' '"outcome":"duplicate"'

req GET "/api/orders/$ORDER2"
expect_json "second order is Paid after the webhook" 200 '"status":"Paid"'

BAD_EVENT="$(event_body "evt_test_$(random_hex 8)" "$ORDER2")"
TS="$(date +%s)"
send_webhook "$BAD_EVENT" "t=$TS,v1=$(sign "not-$WEBHOOK_SECRET" "$TS" "$BAD_EVENT")"
expect_problem "webhook with a wrong signature → 401 invalid-signature" 401 invalid-signature

STALE=$(($(date +%s) - 600))
send_webhook "$BAD_EVENT" "t=$STALE,v1=$(sign "$WEBHOOK_SECRET" "$STALE" "$BAD_EVENT")"
expect_problem "webhook signed 600 s ago → 401 invalid-signature" 401 invalid-signature

send_webhook "$BAD_EVENT"
expect_problem "webhook without X-Signature → 401 invalid-signature" 401 invalid-signature

# --- 4. Swagger (§1.6) ------------------------------------------------------------------
req GET /swagger/index.html
if [ "$CODE" = 200 ] && content_type_is text/html; then
    pass "GET /swagger/index.html → 200 HTML"
else
    fail "GET /swagger/index.html → 200 HTML" "HTTP 200 text/html" "$(got) [Content-Type: $(header content-type)]"
fi

req GET /swagger/openapi.json
if [ "$CODE" = 200 ] && grep -qF '"openapi"' "$TMP/body"; then
    pass "GET /swagger/openapi.json → 200 OpenAPI document"
else
    fail "GET /swagger/openapi.json → 200 OpenAPI document" 'HTTP 200 with "openapi"' "$(got)"
fi

# --- 5. the first order is paid by the worker's own signed webhook ----------------------
deadline=$((SECONDS + WAIT_SECONDS))
status=''
while :; do
    req GET "/api/orders/$ORDER1"
    status="$(order_status)"
    case "$status" in
        Pending | '') ;; # not yet, or no answer this time: keep polling
        *) break ;;      # Paid, or a final state that will not change any more
    esac
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.5
done
if [ "$status" = Paid ]; then
    pass "first order $ORDER1 became Paid (worker → signed webhook → receiver)"
    if compact_body | grep -qF '"paidAt":"'; then
        pass "first order → paidAt is set"
    else
        fail "first order → paidAt is set" '"paidAt":"<time>"' "$(got)"
    fi
else
    fail "first order $ORDER1 became Paid within ${WAIT_SECONDS}s" '"status":"Paid"' "$(got)"
fi

# --- 6. two-step payments and money behind them (§7) ------------------------------------
# A card order with manual capture stops at Authorized; a capture of part of it makes it
# Paid, and a second capture is refused. Then a customer's wallet of 100.00 pays an order
# of 40.00 with manual capture (40.00 held), a capture of 25.00 gives the other 15.00
# back; and the same card saved twice for the customer is refused as a duplicate naming
# the first.
json_id() { compact_body | sed -n "s/^{\"id\":\"\($1_[0-9a-f]*\)\".*/\1/p"; }
capture() { # ORDER BODY
    req POST "/api/orders/$1/capture" -H 'Content-Type: application/json' -H "Idempotency-Key: $(new_key)" --data-binary "$2"
}
wait_while_pending() { # ORDER: poll until it leaves Pending (or WAIT_SECONDS pass)
    local deadline=$((SECONDS + WAIT_SECONDS))
    while :; do
        req GET "/api/orders/$1"
        case "$(order_status)" in
            Pending | '') ;;
            *) return ;;
        esac
        [ "$SECONDS" -ge "$deadline" ] && return
        sleep 0.5
    done
}

ORDER3="$(new_order_number)"
create_order "$(new_key)" "$(printf '{"orderNumber":"%s","amount":40.00,"currency":"USD","captureMethod":"manual"}' "$ORDER3")"
expect_json "manual-capture card order → 201, captureMethod manual" 201 '"captureMethod":"manual"' '"amountCapturable":0.00'
wait_while_pending "$ORDER3"
expect_json "it stops at Authorized with 40.00 capturable" 200 '"status":"Authorized"' '"amountCapturable":40.00'
capture "$ORDER3" '{"amount":25.00}'
expect_json "capture 25.00 → 200 Paid, amountCaptured 25.00" 200 '"status":"Paid"' '"amountCaptured":25.00' '"amountCapturable":0.00'
capture "$ORDER3" '{}'
expect_problem "a second capture → 409 order-not-capturable" 409 order-not-capturable

req POST /api/customers -H 'Content-Type: application/json' -H "Idempotency-Key: $(new_key)" \
    --data-binary '{"name":"test-api","balances":{"USD":100.00}}'
expect_json "POST /api/customers with a 100.00 wallet → 201" 201 '"available":100.00'
CUSTOMER="$(json_id cus)"

ORDER4="$(new_order_number)"
create_order "$(new_key)" "$(printf '{"orderNumber":"%s","amount":40.00,"currency":"USD","customer":"%s","paymentMethod":"balance","captureMethod":"manual"}' "$ORDER4" "$CUSTOMER")"
expect_json "wallet-funded manual-capture order → 201" 201 "\"customer\":\"$CUSTOMER\"" '"paymentMethod":"balance"'
wait_while_pending "$ORDER4"
expect_json "the wallet order stops at Authorized" 200 '"status":"Authorized"' '"amountCapturable":40.00'
req GET "/api/customers/$CUSTOMER"
expect_json "the wallet holds 40.00 (available 60.00, reserved 40.00)" 200 '"available":60.00' '"reserved":40.00'
capture "$ORDER4" '{"amount":25.00}'
expect_json "capture 25.00 of the wallet order → 200 Paid" 200 '"status":"Paid"' '"amountCaptured":25.00'
req GET "/api/customers/$CUSTOMER"
expect_json "the rest went back: available 75.00, reserved 0.00" 200 '"available":75.00' '"reserved":0.00'

CARD="$(printf '{"type":"card","card":{"number":"4242 4242 4242 4242","expMonth":12,"expYear":%s},"customer":"%s"}' "$(($(date -u +%Y) + 3))" "$CUSTOMER")"
req POST /api/payment-methods -H 'Content-Type: application/json' -H "Idempotency-Key: $(new_key)" --data-binary "$CARD"
expect_json "save a card for the customer → 201 (last4 4242)" 201 '"last4":"4242"'
FIRST_PM="$(json_id pm)"
req POST /api/payment-methods -H 'Content-Type: application/json' -H "Idempotency-Key: $(new_key)" --data-binary "$CARD"
expect_problem "the same card again → 409 payment-method-duplicate" 409 payment-method-duplicate
expect_body "the duplicate names the first ($FIRST_PM)" "\"existingPaymentMethod\":\"$FIRST_PM\""

# --- summary ----------------------------------------------------------------------------
echo
if [ "$FAILED" -eq 0 ]; then
    printf '%s%d passed, 0 failed%s\n' "$GREEN" "$PASSED" "$RESET"
    exit 0
fi
printf '%s%d passed, %d failed%s\n' "$RED" "$PASSED" "$FAILED" "$RESET"
exit 1

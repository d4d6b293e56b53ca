# Helpers for capsidd's tests (sourced after lib.sh): a capsidd on this
# test's root and network namespace, its tokens, and curl against it.
CAPSIDD_BIN="$BUILD_DIR/bin/capsidd"
CD_PORT=${CD_PORT:-18443}
CD_URL=https://127.0.0.1:$CD_PORT
CD_TOKENS=$WORK/tokens
TOKEN_A=token-tenant-a-0123456789abcdef
TOKEN_B=token-tenant-b-0123456789abcdef
SUB_A=11111111-aaaa-4aaa-8aaa-111111111111
SUB_B=22222222-bbbb-4bbb-8bbb-222222222222
API=api-version=2023-05-01
CD_PID=

write_tokens() {
	{
		echo "# token tenant subscriptions"
		echo "$TOKEN_A tenant-a $SUB_A"
		echo "$TOKEN_B tenant-b $SUB_B"
	} >"$CD_TOKENS"
}

# start_capsidd [extra flags...]: start it and wait for its line.
start_capsidd() {
	[ -f "$CD_TOKENS" ] || write_tokens
	"$CAPSIDD_BIN" --root "$ROOT" --listen "127.0.0.1:$CD_PORT" --tokens "$CD_TOKENS" "$@" \
		>"$WORK/capsidd.out" 2>>"$WORK/capsidd.err" &
	CD_PID=$!
	CLEANUP_PIDS+=("$CD_PID")
	wait_for "capsidd serving" grep -q "serving https" "$WORK/capsidd.out"
	CD_CA=$(sed -n 's/^capsidd: self-signed certificate //p' "$WORK/capsidd.out")
	[ -n "$CD_CA" ] || CD_CA=$ROOT/capsidd/tls/cert.pem
}

stop_capsidd() {
	kill "${1:--TERM}" "$CD_PID" 2>/dev/null || true
	wait "$CD_PID" 2>/dev/null || true
}

# api TOKEN METHOD PATH [curl args...]: the body on stdout, the status in
# $WORK/status, the headers in $WORK/headers.
api() {
	local token=$1 method=$2 path=$3
	shift 3
	local auth=()
	[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
	case $path in https://*) ;; *) path=$CD_URL$path ;; esac
	curl -sS --cacert "$CD_CA" -X "$method" "${auth[@]}" -D "$WORK/headers" -o "$WORK/body" \
		-w '%{http_code}' "$@" "$path" >"$WORK/status"
	cat "$WORK/body"
}
status() { cat "$WORK/status"; }
expect_status() {
	[ "$(status)" = "$1" ] || fail "$2: status $(status), want $1: $(cat "$WORK/body")"
}
header() { tr -d '\r' <"$WORK/headers" | sed -n "s/^$1: //Ip" | head -n1; }
error_code() { json_get 'd["error"]["code"]' <"$WORK/body"; }

GROUPS_A=/subscriptions/$SUB_A/resourceGroups/rg-one/providers/Microsoft.ContainerInstance/containerGroups

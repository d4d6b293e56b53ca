#!/usr/bin/env bash
# capsid share create/list/key/rm through the CLI, no VM: two accounts (both
# with a share named "data", one with a quota), keys printed and rotated (the
# old key refused by a real smbd, started with the hidden `__smbd`), a share
# created while smbd runs served at once, rm of shares and of the account
# with its last share, smbd ending on its own once no share is left, and
# clear errors naming the argument.
#
# Runs in its own network and mount namespaces: smbd listens on an address
# of the private loopback, and the accounts' unix users (capsid-ACCOUNT) are
# made in an overlay over /etc that vanishes with the test.
set -eu
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	exec unshare --net --mount --propagation private -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
fi

BUILD_DIR=${CAPSID_BUILD_DIR:?CAPSID_BUILD_DIR must point at the build tree}
CAPSID_BIN="$BUILD_DIR/bin/capsid"
ADDR=10.78.0.1
ROOT=$(mktemp -d /tmp/cs.XXXXXX)
export CAPSID_ROOT=$ROOT
WORK=$ROOT/work
mkdir -p "$WORK/etc-up" "$WORK/etc-work"

capsid() { "$CAPSID_BIN" "$@"; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# As lib.sh's (not sourced here: this test needs no VM or image).
case_() { echo "--- case: $*"; }

cleanup() {
	local rc=$?
	"$CAPSID_BIN" __smbd stop >/dev/null 2>&1 || true
	if pgrep -f "[s]mbd .*$ROOT/" >/dev/null; then
		echo "FAIL: smbd left running" >&2
		[ -f "$ROOT/smb/log/smbd.log" ] && tail -n 20 "$ROOT/smb/log/smbd.log" >&2
		pkill -KILL -f "[s]mbd .*$ROOT/" || true
		rc=1
	fi
	# Quota filesystems the test left mounted, then the /etc overlay.
	grep -o " $ROOT/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	umount -l /etc 2>/dev/null || true
	rm -rf "$ROOT"
	exit $rc
}
trap cleanup EXIT

for tool in smbd smbclient useradd; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$WORK/etc-up,workdir=$WORK/etc-work" /etc
ip link set lo up
ip addr add "$ADDR/24" dev lo

# expect_fail PATTERN CMD...: CMD exits 1 and says PATTERN on stderr.
expect_fail() {
	local want=$1 rc=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ $rc = 1 ] || fail "$* exited $rc, expected 1"
	grep -qF -- "$want" "$WORK/err" || fail "$*: expected \"$want\" in: $(cat "$WORK/err")"
}

# smbc ACCOUNT KEY SHARE COMMAND: smbclient with the key in a credentials
# file (printf is a builtin: the key is in no process's arguments).
smbc() {
	(umask 077 && printf 'username = %s\npassword = %s\n' "$1" "$2" >"$WORK/auth")
	smbclient "//$ADDR/$3" -A "$WORK/auth" -m SMB3 -c "$4" 2>&1
}

case_ "errors before anything exists name the argument and leave nothing"
expect_fail "a command is required" capsid share
expect_fail "unknown command frob" capsid share frob
expect_fail "exactly one ACCOUNT/SHARE is required" capsid share create
expect_fail '"Bad/data": the account must be 3-24 lowercase letters or digits' capsid share create Bad/data
expect_fail '"acct1": expected ACCOUNT/SHARE' capsid share create acct1
expect_fail '"acct1/a--b": expected ACCOUNT/SHARE' capsid share create acct1/a--b
expect_fail '--quota "1X": expected a size' capsid share create acct1/data --quota 1X
expect_fail "the quota must be at least 16 MiB" capsid share create acct1/data --quota 1M
expect_fail "no SMB account nobody" capsid share key nobody
expect_fail "no SMB account nobody" capsid share key nobody --rotate
expect_fail '"acct1/data": expected ACCOUNT' capsid share key acct1/data
expect_fail "no share acct1/data" capsid share rm acct1/data
expect_fail "-o yaml: expected table or json" capsid share list -o yaml
[ "$(capsid share list | wc -l)" = 1 ] || fail "a failed create left a share"
getent passwd capsid-acct1 >/dev/null && fail "a failed create left a user"
for sub in create list rm key; do
	capsid share "$sub" --help | grep -q "usage: capsid share $sub" || fail "share $sub --help"
done

case_ "create and list (table and json); a duplicate share is an error"
[ "$(capsid share create acct1/data)" = acct1/data ] || fail "create prints the share"
capsid share create acct2/data --quota 32M >/dev/null
capsid share create acct2/logs >/dev/null
expect_fail "share acct1/data already exists" capsid share create acct1/data
capsid share list >"$WORK/list"
grep -Eq "^acct1 +data +- +$ROOT/smb/shares/acct1/data$" "$WORK/list" || fail "list: $(cat "$WORK/list")"
grep -Eq "^acct2 +data +32M +$ROOT/smb/shares/acct2/data$" "$WORK/list" || fail "list: $(cat "$WORK/list")"
grep -Eq "^acct2 +logs +- " "$WORK/list" || fail "list: $(cat "$WORK/list")"
capsid share list -o json >"$WORK/list.json"
python3 - "$WORK/list.json" <<'P' || fail "list -o json: $(cat "$WORK/list.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
assert [(s["account"], s["share"], s["quotaBytes"]) for s in d] == [
    ("acct1", "data", 0), ("acct2", "data", 32 << 20), ("acct2", "logs", 0)], d
assert all(os.path.isdir(s["path"]) for s in d)
P

case_ "keys: one per account, stable without --rotate, at rest only in the store"
K1=$(capsid share key acct1)
K2=$(capsid share key acct2)
[ ${#K1} = 88 ] && [ ${#K2} = 88 ] || fail "keys of 88 characters expected"
[ "$K1" != "$K2" ] || fail "two accounts share a key"
[ "$(capsid share key acct1)" = "$K1" ] || fail "key changed without --rotate"
# The key is at rest only in the store: not in list output, nor elsewhere.
grep -qF "$K1" "$WORK/list" "$WORK/list.json" && fail "a key in list output"
# (json-c writes "/" as "\/" in accounts.json, hence the parse.)
printf %s "$K1" | python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["accounts"]["acct1"]["key"] == sys.stdin.read()' \
	"$ROOT/smb/accounts.json" || fail "the key is not the stored one"
outside=$(grep -rlF --exclude=accounts.json "$K1" "$ROOT/smb" || true)
[ -z "$outside" ] || fail "a key outside the store: $outside"

case_ "with smbd running: a key opens only its account's shares; rotation refuses the old key"
capsid __smbd start "$ADDR" >/dev/null
echo hello >"$WORK/hello.txt"
(cd "$WORK" && smbc acct1 "$K1" data "put hello.txt hello.txt") >"$WORK/smb" || fail "put: $(cat "$WORK/smb")"
[ "$(cat "$ROOT/smb/shares/acct1/data/hello.txt")" = hello ] || fail "file not in the share"
smbc acct1 "$K2" data ls >"$WORK/smb" && fail "acct2's key opened acct1/data"
grep -q NT_STATUS_LOGON_FAILURE "$WORK/smb" || fail "wrong key: $(cat "$WORK/smb")"

K1B=$(capsid share key acct1 --rotate)
[ ${#K1B} = 88 ] && [ "$K1B" != "$K1" ] || fail "rotate did not print a new key"
[ "$(capsid share key acct1)" = "$K1B" ] || fail "the rotated key is not the account's key"
smbc acct1 "$K1" data ls >"$WORK/smb" && fail "the old key still works after rotation"
grep -q NT_STATUS_LOGON_FAILURE "$WORK/smb" || fail "old key: $(cat "$WORK/smb")"
smbc acct1 "$K1B" data ls >"$WORK/smb" || fail "new key refused: $(cat "$WORK/smb")"
grep -q hello.txt "$WORK/smb" || fail "new key, wrong share: $(cat "$WORK/smb")"
[ "$(capsid share key acct2)" = "$K2" ] || fail "rotating acct1 changed acct2's key"

case_ "a share created while smbd runs is served at once"
capsid share create acct1/more >/dev/null
smbc acct1 "$K1B" more ls >"$WORK/smb" || fail "new share not served: $(cat "$WORK/smb")"
smbc acct2 "$K2" data ls >"$WORK/smb" || fail "acct2/data: $(cat "$WORK/smb")"
grep -q hello.txt "$WORK/smb" && fail "acct2/data shows acct1's file"

case_ "rm of shares, and of the account with its last share"
[ "$(capsid share rm acct1/data)" = acct1/data ] || fail "rm prints the share"
[ ! -e "$ROOT/smb/shares/acct1/data" ] || fail "rm left the data"
capsid share list | grep -Eq "^acct1 +data " && fail "rm left the share listed"
smbc acct1 "$K1B" data ls >"$WORK/smb" && fail "a removed share is still served"
smbc acct1 "$K1B" more ls >"$WORK/smb" || fail "rm of one share broke another: $(cat "$WORK/smb")"
capsid share rm acct1/more >/dev/null
expect_fail "no SMB account acct1" capsid share key acct1
getent passwd capsid-acct1 >/dev/null && fail "the account's user outlived its last share"
capsid share rm acct2/data >/dev/null
capsid share rm acct2/logs >/dev/null
[ ! -e "$ROOT/smb/images/acct2-data.ext4" ] || fail "rm left the quota filesystem"
[ "$(capsid share list | wc -l)" = 1 ] || fail "shares left: $(capsid share list)"
[ "$(capsid share list -o json | tr -d ' \n')" = "[]" ] || fail "json of no shares"

case_ "smbd ends on its own once no share is left"
# No share left: smbd ends on its own, pinned or not (bounded wait: a
# broken keeper fails here instead of hanging).
for _ in $(seq 1 150); do
	pgrep -f "[s]mbd .*$ROOT/" >/dev/null || break
	sleep 0.2
done
pgrep -f "[s]mbd .*$ROOT/" >/dev/null && fail "smbd still runs with no share left"
capsid __smbd stop
echo PASS

#!/usr/bin/env bash
# capsid image pull against real registries the test starts (docker-registry
# 2.8 with TLS and htpasswd, filled by skopeo) and a misbehaving one
# (evil_registry.py): anonymous, basic and bearer auth, tags, digests, a
# multi-platform index, shared layers, rm/prune, a killed pull resumed, CA
# and insecure settings, a docker.io mirror, and the bad inputs, each of
# which must fail clearly and leave nothing half-stored. Bearer tokens come
# from a docker-registry in token mode with the test's token service. No VM.
set -eu
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	exec unshare --net -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

BUILD_DIR=${CAPSID_BUILD_DIR:?CAPSID_BUILD_DIR must point at the build tree}
ROOT=$(mktemp -d /tmp/cs-reg.XXXXXX)
export CAPSID_ROOT=$ROOT/state
REG_WORK=$ROOT/reg
CLEANUP_PIDS=()
cleanup() {
	local rc=$?
	if [ ${#CLEANUP_PIDS[@]} -gt 0 ]; then kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$ROOT"
	exit $rc
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
capsid() { "$BUILD_DIR/bin/capsid" "$@"; }
. "$(dirname "$0")/registry_lib.sh"
registry_setup
export CAPSID_REGISTRY_CA=$REG_CA
BLOBS=$CAPSID_ROOT/images/blobs/sha256

# expect_fail WANT CMD...: CMD fails and its stderr contains WANT.
expect_fail() {
	local want=$1
	shift
	if "$@" >"$ROOT/out" 2>"$ROOT/err"; then fail "succeeded: $* ($(cat "$ROOT/out"))"; fi
	grep -qF -- "$want" "$ROOT/err" || fail "$*: wanted '$want' in: $(cat "$ROOT/err")"
	echo "  ok: $(tail -n 1 "$ROOT/err")"
}
n_blobs() { find "$BLOBS" -maxdepth 1 -type f 2>/dev/null | grep -cv '/\.tmp-' || true; }
no_tmp() {
	! find "$CAPSID_ROOT/images" -name '.tmp-*' | grep -q . || fail "leftovers: $(find "$CAPSID_ROOT/images" -name '.tmp-*')"
}
refs() { capsid image list | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '; }
# The files of the image REF, extracted from its erofs.
extract() {
	local disk
	disk=$(find "$CAPSID_ROOT/images/$(capsid image list | awk -v r="$1" '$1 == r { print $2 }')"* \
		-maxdepth 1 -name rootfs.erofs | head -n 1)
	rm -rf "$ROOT/x"
	fsck.erofs --extract="$ROOT/x" "$disk" >/dev/null
}

echo "$(date +%T) --- anonymous pull by tag; layers in parallel, verified, flattened"
out=$(capsid image pull "$REG_ANON/test/app:v1" 2>"$ROOT/progress")
[ "$out" = "$REG_ANON/test/app:v1" ] || fail "pull printed $out"
[ "$(grep -c ': done (' "$ROOT/progress")" = 3 ] || fail "progress: $(cat "$ROOT/progress")"
[ "$(n_blobs)" = 5 ] || fail "want 3 layers + config + manifest stored, have $(n_blobs)"
extract "$REG_ANON/test/app:v1"
[ "$(cat "$ROOT/x/etc/greeting")" = "hello from the registry" ] || fail "greeting layer missing"
[ -L "$ROOT/x/bin/sh" ] && [ -s "$ROOT/x/data/random" ] || fail "gzip or zstd layer missing"
capsid image list | grep -q "^$REG_ANON/test/app:v1 .* registry $REG_ANON/test/app\$" ||
	fail "list: $(capsid image list)"
no_tmp

echo "$(date +%T) --- --quiet prints only the ref; a second pull downloads nothing"
out=$(capsid image pull --quiet "$REG_ANON/test/app:v1" 2>"$ROOT/progress")
[ "$out" = "$REG_ANON/test/app:v1" ] && [ ! -s "$ROOT/progress" ] || fail "quiet: $out / $(cat "$ROOT/progress")"
capsid image pull "$REG_ANON/test/app:v1" 2>"$ROOT/progress" >/dev/null
[ "$(grep -c 'already present' "$ROOT/progress")" = 3 ] || fail "re-pull: $(cat "$ROOT/progress")"

echo "$(date +%T) --- on a terminal: one live line per layer"
capsid image rm "$REG_ANON/test/app:v1" >/dev/null
script -qec "$BUILD_DIR/bin/capsid image pull $REG_ANON/test/app:v1" /dev/null >"$ROOT/tty" </dev/null ||
	fail "pull on a terminal: $(cat "$ROOT/tty")"
grep -q $'\033\[2K[0-9a-f]\{12\}: downloading' "$ROOT/tty" || fail "no live lines: $(od -c "$ROOT/tty" | head)"
grep -q $'\033\[3A' "$ROOT/tty" || fail "the live block is not redrawn in place"
[ "$(grep -c 'done (' "$ROOT/tty")" -ge 3 ] || fail "terminal output: $(cat -v "$ROOT/tty")"

echo "$(date +%T) --- pull by digest"
digest=$(capsid image list | awk -v r="$REG_ANON/test/app:v1" '$1 == r { print $2 }')
full=$(find "$CAPSID_ROOT/images" -maxdepth 1 -name "$digest*" -printf '%f\n')
out=$(capsid image pull "$REG_ANON/test/app@sha256:$full" 2>/dev/null)
[ "$out" = "$REG_ANON/test/app@sha256:$full" ] || fail "digest pull printed $out"
expect_fail "manifest unknown" capsid image pull "$REG_ANON/test/app@sha256:$(printf '%064d' 0)"

echo "$(date +%T) --- multi-platform index: default linux/amd64, --platform, shared layers"
amd64=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["multi_platforms"][0])' <"$REG_WORK/fixtures.json")
arm64=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["multi_platforms"][1])' <"$REG_WORK/fixtures.json")
capsid image pull "$REG_ANON/test/multi:v1" 2>"$ROOT/progress" >/dev/null
grep -q 'already present' "$ROOT/progress" || fail "the busybox layer was downloaded again: $(cat "$ROOT/progress")"
[ -d "$CAPSID_ROOT/images/${amd64#sha256:}" ] || fail "default platform is not the amd64 image"
extract "$REG_ANON/test/multi:v1"
[ "$(cat "$ROOT/x/etc/arch")" = amd64 ] || fail "amd64 image has $(cat "$ROOT/x/etc/arch")"
capsid image pull --platform linux/arm64 "$REG_ANON/test/multi:v1" >/dev/null 2>&1
[ -d "$CAPSID_ROOT/images/${arm64#sha256:}" ] || fail "--platform linux/arm64 did not pull the arm64 image"
expect_fail "no image for linux/s390x" capsid image pull --platform linux/s390x "$REG_ANON/test/multi:v1"

echo "$(date +%T) --- rm removes the layers only it used; prune the rest"
capsid image pull "$REG_ANON/test/multi:v1" >/dev/null 2>&1
before=$(n_blobs)
capsid image rm "$REG_ANON/test/app:v1" "$REG_ANON/test/app@sha256:$full"
[ -f "$BLOBS/$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][0]["digest"][7:])' \
	"$CAPSID_ROOT/images/${amd64#sha256:}/manifest.json")" ] || fail "rm removed a layer multi still uses"
[ "$(n_blobs)" -lt "$before" ] || fail "rm left the app image's own layers"
capsid image rm "$REG_ANON/test/multi:v1"
out=$(capsid image prune)
[ "$(n_blobs)" = 0 ] && [ "$(refs)" = "" ] || fail "after rm and prune ($out): $(ls -a "$BLOBS") refs: $(refs)"

echo "$(date +%T) --- basic auth: 401 without credentials, wrong password, right one"
expect_fail "unauthorized: $REG_AUTH needs a username and password" capsid image pull "$REG_AUTH/test/app:v1"
echo wrong | expect_fail "unauthorized (HTTP 401)" \
	capsid image pull --username "$REG_USER" --password-stdin "$REG_AUTH/test/app:v1"
[ "$(refs)" = "" ] && [ "$(n_blobs)" = 0 ] || fail "a refused pull stored something"
out=$(printf '%s\n' "$REG_PASS" | capsid image pull --username "$REG_USER" --password-stdin "$REG_AUTH/test/app:v1" 2>/dev/null)
[ "$out" = "$REG_AUTH/test/app:v1" ] || fail "authenticated pull printed $out"
expect_fail "--username and --password-stdin go together" capsid image pull --username x "$REG_AUTH/test/app:v1"
expect_fail "doesn't allow an argument" capsid image pull --password=x "$REG_AUTH/test/app:v1"

echo "$(date +%T) --- bearer tokens: docker-registry in token mode and its token service"
registry_start_token 5006 5005
expect_fail "token service https://127.0.0.1:5005/token: unauthorized (HTTP 401)" capsid image pull "$REG_TOKEN/test/app:v1"
echo wrong | expect_fail "invalid username or password" \
	capsid image pull --username "$REG_USER" --password-stdin "$REG_TOKEN/test/app:v1"
out=$(printf '%s\n' "$REG_PASS" | capsid image pull --username "$REG_USER" --password-stdin "$REG_TOKEN/test/app:v1" 2>/dev/null)
[ "$out" = "$REG_TOKEN/test/app:v1" ] || fail "token pull printed $out"
# The same image from two registries: each ref names its own source.
capsid image list | grep -q "^$REG_TOKEN/test/app:v1 .* registry $REG_TOKEN/test/app\$" &&
	capsid image list | grep -q "^$REG_AUTH/test/app:v1 .* registry $REG_AUTH/test/app\$" ||
	fail "sources: $(capsid image list)"
capsid image rm "$REG_TOKEN/test/app:v1"

echo "$(date +%T) --- trust: no CA, certs.d, plain http only when listed"
expect_fail "TLS error" env -u CAPSID_REGISTRY_CA "$BUILD_DIR/bin/capsid" image pull "$REG_ANON/test/multi:v1"
mkdir -p "$CAPSID_ROOT/certs.d/$REG_ANON"
cp "$REG_CA" "$CAPSID_ROOT/certs.d/$REG_ANON/ca.crt"
env -u CAPSID_REGISTRY_CA "$BUILD_DIR/bin/capsid" image pull -q "$REG_ANON/test/multi:v1" >/dev/null ||
	fail "certs.d/$REG_ANON/ca.crt not used"
REG_PLAIN=127.0.0.1:5003
registry_start plain 5003 plain
registry_push "$REG_WORK/fixtures/multi" "$REG_PLAIN/test/multi:v1" "" plain
expect_fail "TLS error" capsid image pull "$REG_PLAIN/test/multi:v1"
CAPSID_INSECURE_REGISTRIES="example.com,$REG_PLAIN" capsid image pull -q "$REG_PLAIN/test/multi:v1" >/dev/null ||
	fail "plain http registry listed in CAPSID_INSECURE_REGISTRIES"

echo "$(date +%T) --- docker.io through CAPSID_REGISTRY_MIRROR"
out=$(CAPSID_REGISTRY_MIRROR="https://$REG_ANON" capsid image pull test/multi:v1 2>/dev/null)
[ "$out" = "test/multi:v1" ] || fail "mirror pull printed $out"
capsid image list | grep -q '^test/multi:v1 .* registry docker.io/test/multi$' || fail "list: $(capsid image list)"
expect_fail "CAPSID_REGISTRY_MIRROR http://x: plain http needs" env CAPSID_REGISTRY_MIRROR=http://x \
	"$BUILD_DIR/bin/capsid" image pull busybox

echo "$(date +%T) --- bad references"
expect_fail "'..' not allowed" capsid image pull "$REG_ANON/test/../app:v1"
expect_fail "character ' ' not allowed" capsid image pull "$REG_ANON/te st"
expect_fail "with lowercase names" capsid image pull "$REG_ANON/Test/app"
expect_fail "only sha256 digests" capsid image pull "$REG_ANON/test/app@md5:00"

echo "$(date +%T) --- the misbehaving registry"
EVIL=127.0.0.1:5004
# Its image has six layers: busybox, a small one, four random ones.
python3 "$REG_LIB_DIR/registry_fixtures.py" "$REG_WORK/evil-fixtures" --random-bytes 65536 --random-layers 4 >/dev/null
python3 "$(dirname "$0")/evil_registry.py" 5004 "$REG_WORK/tls/server.crt" "$REG_WORK/tls/server.key" \
	"$REG_WORK/evil-fixtures/app" "$REG_USER" "$REG_PASS" "$ROOT/resume-flag" "$ROOT/evil.log" 2>"$ROOT/evil.err" &
CLEANUP_PIDS+=($!)
for i in $(seq 1 100); do curl -s -o /dev/null --cacert "$REG_CA" "https://$EVIL/v2/" && break; sleep 0.1; done
capsid image rm test/multi:v1 "$REG_ANON/test/multi:v1" "$REG_PLAIN/test/multi:v1" "$REG_AUTH/test/app:v1" >/dev/null
capsid image prune >/dev/null
[ "$(n_blobs)" = 0 ] || fail "store not empty before the bad inputs"
snapshot() { (cd "$ROOT" && find state -printf '%p %s\n' | sort); }
snapshot >"$ROOT/before"
export CAPSID_REGISTRY_STALL_TIMEOUT=2
expect_fail "declared size 10000000000000 is over the limit" capsid image pull "$EVIL/huge/app:v1"
expect_fail "digest mismatch: the content is" capsid image pull "$EVIL/mismatch/app:v1"
expect_fail "larger than the 100 bytes the manifest declares" capsid image pull "$EVIL/oversize/app:v1"
expect_fail "layer 1 blob" capsid image pull "$EVIL/nottar/app:v1"
expect_fail "only https URLs are followed" capsid image pull "$EVIL/redirhttp/app:v1"
expect_fail "only https URLs are followed" capsid image pull "$EVIL/redirfile/app:v1"
expect_fail "timeout" capsid image pull "$EVIL/stall/app:v1"
expect_fail "malformed WWW-Authenticate challenge" capsid image pull "$EVIL/badchallenge/app:v1"
# Nothing of any of them is left, and nothing else changed; the layers that
# did verify before another failed are the only blobs kept (for a resume).
no_tmp
[ "$(refs)" = "" ] || fail "a bad pull left refs: $(refs)"
find "$CAPSID_ROOT/images" -mindepth 1 -maxdepth 1 -type d ! -name blobs | grep -q . &&
	fail "a bad pull left an image: $(ls "$CAPSID_ROOT/images")"
capsid image prune >/dev/null
snapshot | diff "$ROOT/before" - >/dev/null || fail "bad pulls changed the state root: $(snapshot | diff "$ROOT/before" -)"
grep -q root: "$ROOT/before" && fail "file:///etc/passwd reached the store"
! grep -rq "root:x:0" "$CAPSID_ROOT" || fail "file:///etc/passwd reached the store"

echo "$(date +%T) --- redirects to https are followed; bearer tokens"
capsid image pull -q "$EVIL/redirok/app:v1" >/dev/null || fail "https redirect not followed"
expect_fail "token service https://127.0.0.1:5004/token: unauthorized (HTTP 401)" capsid image pull "$EVIL/bearer/app:v1"
echo "$REG_PASS" | capsid image pull -q --username "$REG_USER" --password-stdin "$EVIL/bearer/app:v1" >/dev/null ||
	fail "bearer flow"
capsid image rm "$EVIL/redirok/app:v1" "$EVIL/bearer/app:v1" >/dev/null
capsid image prune >/dev/null

echo "$(date +%T) --- a layer listed twice is fetched once"
: >"$ROOT/evil.log"
capsid image pull -q "$EVIL/dup/app:v1" >/dev/null || fail "pull of an image listing a layer twice"
[ "$(sort "$ROOT/evil.log" | uniq -d | wc -l)" = 0 ] || fail "a blob fetched twice: $(sort "$ROOT/evil.log" | uniq -c)"
capsid image rm "$EVIL/dup/app:v1" >/dev/null

echo "$(date +%T) --- layers download in parallel, at most three at once"
: >"$ROOT/evil.log"
capsid image pull -q "$EVIL/slow/app:v1" >/dev/null || fail "slow pull"
[ "$(awk '$1 == "slow" { m = $3 } END { print m }' "$ROOT/evil.log")" = 3 ] ||
	fail "most layers in flight: $(cat "$ROOT/evil.log")"
capsid image rm "$EVIL/slow/app:v1" >/dev/null
capsid image prune >/dev/null

echo "$(date +%T) --- a pull killed halfway resumes with the layers it has"
: >"$ROOT/evil.log"
CAPSID_REGISTRY_STALL_TIMEOUT=60 "$BUILD_DIR/bin/capsid" image pull "$EVIL/resume/app:v1" >/dev/null 2>&1 &
pull=$!
# Layers 1-5 land; layer 6 stalls until the flag exists.
partial() { stat -c %s "$BLOBS"/.tmp-* 2>/dev/null || true; }
for i in $(seq 1 300); do [ "$(n_blobs)" -ge 5 ] && [ "$(partial)" = 100 ] && break; sleep 0.1; done
[ "$(n_blobs)" = 5 ] || fail "want 5 finished layers before the kill, have $(n_blobs)"
[ "$(partial)" = 100 ] || fail "want the stalled layer's first 100 bytes before the kill: $(partial)"
kill -9 $pull
wait $pull 2>/dev/null || true
[ "$(refs)" = "" ] || fail "killed pull left a ref"
touch "$ROOT/resume-flag"
capsid image pull "$EVIL/resume/app:v1" 2>"$ROOT/progress" >/dev/null || fail "resumed pull: $(cat "$ROOT/progress")"
[ "$(grep -c 'already present' "$ROOT/progress")" = 5 ] || fail "resume: $(cat "$ROOT/progress")"
# The half-written layer went on from byte 100.
grep -q '^range sha256:[0-9a-f]* from 100$' "$ROOT/evil.log" || fail "no ranged request: $(cat "$ROOT/evil.log")"
# Each layer was fetched once, the stalled one twice (killed, then resumed).
counts=$(grep -v '^range' "$ROOT/evil.log" | sort | uniq -c | awk '{print $1}' | sort | tr '\n' ' ')
[ "$counts" = "1 1 1 1 1 2 2 " ] || fail "blob requests (config fetched per pull): $(sort "$ROOT/evil.log" | uniq -c)"
no_tmp
extract "$EVIL/resume/app:v1"
[ "$(cat "$ROOT/x/etc/greeting")" = "hello from the registry" ] || fail "resumed image incomplete"
echo PASS

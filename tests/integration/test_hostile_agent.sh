#!/usr/bin/env bash
# Every byte from the guest is hostile: a guest that sends garbage, an
# oversized frame, a frame before HELLO, an invalid EXIT, or nothing at all,
# gets its channel (and VM) ended with a clear error; the host side never
# crashes or hangs, and nothing is left behind.
. "$(dirname "$0")/lib.sh"
export CAPSID_QEMU="$(dirname "$0")/fake_qemu.py"
# The stand-in plays a hostile guest, not a hostile QEMU (that is
# integration.redteam_qemu): it takes its mode from the environment and
# serves the agent socket by path, which a jailed QEMU has neither of.
export CAPSID_CONFINE=0

write_spec "$WORK/g.yaml" evil Never 'c|1|0.25|true'
for mode in garbage oversized early; do
	set +e
	FAKE_AGENT_MODE=$mode timeout 60 "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc = 1 ] || fail "$mode: create exit $rc (124 = hung)"
	grep -Eq 'malformed|oversized|before HELLO' "$WORK/err" || fail "$mode: unclear error: $(cat "$WORK/err")"
	[ ! -e "$ROOT/groups/evil" ] || fail "$mode: the failed group was left behind"
	pgrep -f "[f]ake_qemu.py.*$ROOT/" >/dev/null && fail "$mode: the fake VM was left running"
done

# A valid start, then an EXIT whose body does not validate: the group ends
# Failed with an AgentError event; the monitor keeps serving.
FAKE_AGENT_MODE=badexit "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>&1 || true
wait_for "evil to fail" state_is evil Failed
capsid show evil | grep -q '"AgentError"' || fail "no AgentError event"
capsid show evil | grep -q 'invalid EXIT' || fail "event does not say what was wrong"
capsid delete evil

# A guest that never answers: create gives up after the boot timeout.
set +e
CAPSID_BOOT_TIMEOUT_MS=3000 FAKE_AGENT_MODE=silent timeout 60 "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'did not answer' "$WORK/err" || fail "silent guest: exit $rc: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/evil" ] || fail "silent: the failed group was left behind"
echo PASS

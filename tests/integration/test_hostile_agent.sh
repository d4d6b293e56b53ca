#!/usr/bin/env bash
# Every byte from the guest is hostile: a guest that sends garbage, an
# oversized frame, a frame before HELLO, an invalid EXIT, or nothing at all,
# gets its channel (and VM) ended with a clear error; the host side never
# crashes or hangs, and nothing is left behind. A victim group (real QEMU,
# confined) runs beside it throughout and keeps answering with nothing lost.
. "$(dirname "$0")/lib.sh"
export CAPSID_QEMU="$(dirname "$0")/fake_qemu.py"
# The stand-in plays a hostile guest, not a hostile QEMU (that is
# integration.redteam_qemu): it takes its mode from the environment and
# serves the agent socket by path, which a jailed QEMU has neither of.
export CAPSID_CONFINE=0

write_spec "$WORK/victim.yaml" victim Always \
	'c|1|0.25|echo secret-data > /victim-file; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'
CAPSID_QEMU= CAPSID_CONFINE=1 capsid create -f "$WORK/victim.yaml" >/dev/null
vpid=$(qemu_pid victim)

write_spec "$WORK/g.yaml" evil Never 'c|1|0.25|true'
for mode in garbage oversized early; do
	case_ "a hostile guest ($mode frames): create fails clearly and leaves nothing"
	set +e
	FAKE_AGENT_MODE=$mode timeout 60 "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>"$WORK/err"
	rc=$?
	set -e
	[ $rc = 1 ] || fail "$mode: create exit $rc (124 = hung)"
	grep -Eq 'malformed|oversized|before HELLO' "$WORK/err" || fail "$mode: unclear error: $(cat "$WORK/err")"
	[ ! -e "$ROOT/groups/evil" ] || fail "$mode: the failed group was left behind"
	pgrep -f "[f]ake_qemu.py.*$ROOT/" >/dev/null && fail "$mode: the fake VM was left running"
done

case_ "an EXIT that does not validate: the group is Failed with an AgentError event"
# A valid start, then an EXIT whose body does not validate: the group ends
# Failed with an AgentError event; the monitor keeps serving.
FAKE_AGENT_MODE=badexit "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>&1 || true
wait_for "evil to fail" state_is evil Failed
capsid show evil | grep -q '"AgentError"' || fail "no AgentError event"
capsid show evil | grep -q 'invalid EXIT' || fail "event does not say what was wrong"
capsid delete evil

case_ "a guest that never answers: create gives up after the boot timeout"
set +e
CAPSID_BOOT_TIMEOUT_MS=3000 FAKE_AGENT_MODE=silent timeout 60 "$CAPSID_BIN" create -f "$WORK/g.yaml" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'did not answer' "$WORK/err" || fail "silent guest: exit $rc: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/evil" ] || fail "silent: the failed group was left behind"

case_ "the victim beside them: the same QEMU, still answering, its data and logs whole"
[ "$(qemu_pid victim)" = "$vpid" ] || fail "the victim's QEMU changed"
[ "$(capsid exec victim -- cat /victim-file)" = secret-data ] || fail "victim file"
state_is victim Running || fail "victim is $(group_state victim)"
last=$(capsid logs victim | grep -c '^tick ')
wait_for "victim keeps ticking" sh -c "[ \$('$CAPSID_BIN' logs victim | grep -c '^tick ') -gt $last ]"
capsid logs victim | awk '/^tick / { if ($2 != n) { print "gap at " n; exit 1 } n++ }' || fail "victim log lost lines"
echo PASS

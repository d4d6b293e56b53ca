# Shared by run.sh, levers.sh and warm.sh: checks, the VM floor's
# initramfs, and the last-resort cleanup trap. Sourced, not run.

bench_require_root() {
	[ "$(id -u)" = 0 ] || {
		echo "$0: must run as root (QEMU, runc, runsc)" >&2
		exit 1
	}
}

bench_require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "$0: $tool is missing" >&2
			exit 1
		}
	done
}

# bench_build_floor DIR: DIR/floor.cpio, an initramfs whose /init is
# floor_init.c (static) plus /dev/console, so the kernel gives it a stdout.
# Tiny, so it is rebuilt every run.
bench_build_floor() {
	local dir=$1
	mkdir -p "$dir/root/dev"
	gcc -static -Os -Wall -Wextra -Werror -o "$dir/root/init" "$BENCH_DIR/floor_init.c"
	mknod "$dir/root/dev/console" c 5 1
	(cd "$dir/root" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0) >"$dir/floor.cpio"
}

# bench_run_python ARGS...: run a harness in the background and wait, so a
# signal to this script reaches the trap, which passes SIGTERM on; the
# harness then deletes what it made (its finally: clause).
BENCH_CHILD=
BENCH_TMP=
bench_cleanup() {
	local rc=$?
	if [ -n "$BENCH_CHILD" ] && kill -0 "$BENCH_CHILD" 2>/dev/null; then
		kill -TERM "$BENCH_CHILD" 2>/dev/null || true
		wait "$BENCH_CHILD" 2>/dev/null || true
	fi
	[ -n "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
	exit $rc
}
bench_run_python() {
	python3 "$@" &
	BENCH_CHILD=$!
	wait "$BENCH_CHILD"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

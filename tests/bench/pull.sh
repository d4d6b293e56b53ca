#!/usr/bin/env bash
# Registry pull benchmark (issue 14), in one run, from a local registry
# (docker-registry with TLS on loopback, filled by skopeo) in a private
# network namespace:
#   1. cold pull of a multi-layer image (~62 MB: busybox, a small layer and
#      three 20 MiB random layers, zstd and gzip) with capsid (download,
#      verify, flatten, erofs) against `skopeo copy` of the same image to an
#      OCI layout (download and verify only), alternating, RUNS times;
#   2. the same pull with every layer already present (blobs kept, image
#      rebuilt: verify + flatten + erofs, no download), and a re-pull of the
#      stored image (manifest check only);
#   3. `capsid run` of a not-yet-pulled image to its first output line
#      (the small two-layer image, and the 62 MB one), and of the small one
#      again once it is in the store.
# Timing decides nothing; it prints a table.
# usage: CAPSID_BUILD_DIR=build bash tests/bench/pull.sh [RUNS]
. "$(dirname "$0")/../integration/lib.sh"
runs=${1:-3}
REG_WORK=$WORK/reg
REG_RANDOM_BYTES=$((20 << 20)) REG_RANDOM_LAYERS=3
export REG_RANDOM_BYTES REG_RANDOM_LAYERS
. "$(dirname "$0")/../e2e/registry_lib.sh"
registry_setup
export CAPSID_REGISTRY_CA=$REG_CA
IMG=$REG_ANON/test/app:v1
SMALL=$REG_ANON/test/multi:v1
size=$(du -sb "$REG_WORK/fixtures/app/blobs" | cut -f1)

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.3f}")' "$1" "$2"; }
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cold=() skopeo_t=() present=() repull=()
for i in $(seq 1 "$runs"); do
	r=$WORK/r$i
	t0=$(now)
	CAPSID_ROOT=$r capsid image pull -q "$IMG" >/dev/null
	t1=$(now)
	cold+=("$(elapsed "$t0" "$t1")")
	t0=$(now)
	CAPSID_ROOT=$r capsid image pull -q "$IMG" >/dev/null
	t1=$(now)
	repull+=("$(elapsed "$t0" "$t1")")
	# Every layer present, the image not built: a fresh root with the blobs.
	mkdir -p "$WORK/p$i/images"
	cp -a "$r/images/blobs" "$WORK/p$i/images/"
	t0=$(now)
	CAPSID_ROOT=$WORK/p$i capsid image pull -q "$IMG" >/dev/null
	t1=$(now)
	present+=("$(elapsed "$t0" "$t1")")
	rm -rf "$r" "$WORK/p$i"
	t0=$(now)
	skopeo copy --quiet --src-cert-dir "$REG_WORK/tls/skopeo" "docker://$IMG" "oci:$WORK/s$i:v1" >/dev/null
	t1=$(now)
	skopeo_t+=("$(elapsed "$t0" "$t1")")
	rm -rf "$WORK/s$i"
done

# run to the first output line, the image not yet pulled
first_line() { # SPECFILE -> seconds
	local t0 line
	t0=$(now)
	coproc RUN { capsid run --rm -f "$1" 2>/dev/null; }
	read -r line <&"${RUN[0]}"
	local t1
	t1=$(now)
	wait "$RUN_PID" || true
	echo "$(elapsed "$t0" "$t1") ($line)"
}
spec() { # FILE NAME IMAGE
	cat >"$1" <<EOF
name: $2
properties:
  restartPolicy: Never
  containers:
  - name: c
    properties:
      image: $3
      resources: {requests: {cpu: 1, memoryInGB: 0.5}}
EOF
}
spec "$WORK/small.yaml" small "$SMALL"
spec "$WORK/big.yaml" big "$IMG"
run_small=$(first_line "$WORK/small.yaml")
run_big=$(first_line "$WORK/big.yaml")
run_present=$(first_line "$WORK/small.yaml") # the same image, now in the store

mc=$(echo "${cold[*]}" | median)
ms=$(echo "${skopeo_t[*]}" | median)
echo
echo "image: $IMG, $(python3 -c "print(f'{$size / 1e6:.1f}')") MB of blobs, 5 layers; runs: $runs"
printf '%-52s %s\n' "cold pull, capsid (median; all)" "$mc s; ${cold[*]}"
printf '%-52s %s\n' "skopeo copy to an OCI layout (median; all)" "$ms s; ${skopeo_t[*]}"
printf '%-52s %s\n' "ratio capsid / skopeo" "$(python3 -c "print(f'{$mc / $ms:.2f}')")"
printf '%-52s %s\n' "every layer present, image rebuilt (median; all)" "$(echo "${present[*]}" | median) s; ${present[*]}"
printf '%-52s %s\n' "re-pull of the stored image (median; all)" "$(echo "${repull[*]}" | median) s; ${repull[*]}"
printf '%-52s %s\n' "run, not yet pulled, to first line (2 layers)" "$run_small s"
printf '%-52s %s\n' "run, not yet pulled, to first line (62 MB)" "$run_big s"
printf '%-52s %s\n' "run, image in the store, to first line (2 layers)" "$run_present s"

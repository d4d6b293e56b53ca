#!/bin/bash
# `capsid volume` end to end, without a group VM: create a persistent disk,
# copy a file and a tree in and out through the libguestfs appliance (booted
# under TCG: some seconds per copy), list, the exclusive lock against a
# concurrent operation, rm, and the errors a user sees.
. "$(dirname "$0")/lib.sh"

case_ "errors that need no appliance name their cause and leave nothing"
capsid volume --help | grep -q "capsid volume COMMAND" || fail "volume --help"
capsid volume cp --help | grep -q "NAME:/PATH" || fail "volume cp --help"
out=$(capsid volume create Bad_Name --size 64M 2>&1) && fail "a bad name was accepted"
echo "$out" | grep -q 'volume name "Bad_Name"' || fail "bad name message: $out"
out=$(capsid volume create data --size lots 2>&1) && fail "a bad size was accepted"
echo "$out" | grep -q -- '--size: "lots"' || fail "bad size message: $out"
out=$(capsid volume create data --size 1M 2>&1) && fail "a tiny size was accepted"
echo "$out" | grep -q 'size: .*at least 16M' || fail "small size message: $out"
out=$(capsid volume create data 2>&1) && fail "create without --size was accepted"
echo "$out" | grep -q -- '--size SIZE is required' || fail "missing size message: $out"
out=$(capsid volume cp "$WORK" "$WORK" 2>&1) && fail "cp without a volume side was accepted"
echo "$out" | grep -q 'exactly one of SRC and DST' || fail "cp sides message: $out"
out=$(capsid volume cp "$WORK" nothing:/ 2>&1) && fail "cp into a missing volume was accepted"
echo "$out" | grep -q 'no volume nothing (capsid volume create)' || fail "missing volume message: $out"
out=$(capsid volume rm nothing 2>&1) && fail "rm of a missing volume succeeded"
echo "$out" | grep -q 'no volume nothing' || fail "rm message: $out"
[ -z "$(ls -A "$ROOT/volumes" 2>/dev/null)" ] || fail "failed commands left files: $(ls "$ROOT/volumes")"

case_ "create and list a volume; a second create is an error"
t0=$(date +%s%N)
capsid volume create data --size 64M >/dev/null
echo "create 64M: $((($(date +%s%N) - t0) / 1000000)) ms"
capsid volume list | grep -Eq '^data +64M +[0-9T:-]+ +-$' || fail "list: $(capsid volume list)"
capsid volume list -o json | json_get 'd[0]["sizeBytes"]' | grep -qx 67108864 || fail "list -o json"
out=$(capsid volume create data --size 64M 2>&1) && fail "a second create succeeded"
echo "$out" | grep -q 'volume data exists' || fail "exists message: $out"

head -c 1000000 /dev/urandom >"$WORK/blob.bin"
mkdir -p "$WORK/site/css" "$WORK/out"
echo '<h1>hello</h1>' >"$WORK/site/index.html"
echo 'body {}' >"$WORK/site/css/main.css"
printf '#!/bin/sh\necho run\n' >"$WORK/site/run.sh"
chmod 755 "$WORK/site/run.sh"
ln -s index.html "$WORK/site/home.html"

case_ "copy a file in"
capsid volume cp "$WORK/blob.bin" data:/ || fail "cp a file in"

case_ "while a copy holds the volume, rm is refused and names it"
capsid volume cp "$WORK/site" data:/ &
cp_pid=$!
wait_for "the copy to hold the volume" sh -c "'$CAPSID_BIN' volume list | grep -q 'capsid volume cp'"
out=$(capsid volume rm data 2>&1) && fail "rm succeeded during a copy"
echo "$out" | grep -q 'volume data is in use by capsid volume cp' || fail "busy message: $out"
wait "$cp_pid" || fail "cp a directory in"
capsid volume list | grep -Eq '^data .* -$' || fail "still attached after the copy: $(capsid volume list)"

case_ "copy a file and a tree out: the same bytes, modes and symlinks; a missing path is an error"
capsid volume cp data:/site "$WORK/out" || fail "cp a directory out"
capsid volume cp data:/blob.bin "$WORK/out" || fail "cp a file out"
cmp "$WORK/blob.bin" "$WORK/out/blob.bin" || fail "blob.bin differs"
diff -r --no-dereference "$WORK/site" "$WORK/out/site" || fail "site differs"
[ -x "$WORK/out/site/run.sh" ] || fail "run.sh lost its mode"
[ "$(readlink "$WORK/out/site/home.html")" = index.html ] || fail "the symlink was not kept"
out=$(capsid volume cp data:/missing "$WORK/out" 2>&1) && fail "cp of a missing path succeeded"
echo "$out" | grep -q '/missing is not a regular file or directory in the volume' || fail "missing path: $out"

case_ "rm of a volume leaves nothing"
capsid volume rm data >/dev/null
[ "$(capsid volume list | wc -l)" = 1 ] || fail "list after rm: $(capsid volume list)"
[ -z "$(ls -A "$ROOT/volumes")" ] || fail "rm left files: $(ls "$ROOT/volumes")"
echo "PASS: volume cli"

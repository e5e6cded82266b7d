#!/usr/bin/env bash
# `ckpt verify`, restore's check against the manifest, and `ckpt show --ps
# --fds --mems`, on the images of a real tree (rt_tree: a parent, two live
# children, two zombies).  The tree is dumped (and killed); the set as
# dumped verifies; then each corruption, made in a copy of the set (a
# truncated core image, a flipped byte in a pages image, a deleted mm image,
# a foreign fdinfo image, the manifest itself gone), makes verify exit 1
# naming the file and what is wrong, and makes restore refuse naming it with
# nothing created: every pid of the tree stays free.  Last, the set as
# dumped restores and the tree says PASS.
#
#   verify.sh CKPT PROG WORK    (PROG: rt_tree; under rt_subreaper)
set -u
CKPT=$1
TARGET_PROG=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

DIR=$WORK/img
start_target tree
"$CKPT" dump -t $PID -D "$DIR" 2>"$WORK/dump.err" || fail "the dump: $(cat "$WORK/dump.err")"
wait_for 10 gone $PID || fail "the dumped tree is still there"
wait $PID 2>/dev/null

# ---- the set as dumped ---------------------------------------------------------
[ -f "$DIR/manifest.img" ] || fail "no manifest.img in the set"
# (the stats images are written after the manifest and are not in it)
images=$(cd "$DIR" && ls *.img | grep -vcE '^(manifest|stats-dump|stats-restore).img$')
out=$("$CKPT" verify "$DIR" 2>&1) || fail "verify of the set as dumped: $out"
[ "$out" = "$DIR: $images images verified" ] || fail "verify said '$out', not '$DIR: $images images verified'"
echo "verified: $out"

# ---- show --ps, --fds, --mems ---------------------------------------------------
ps=$("$CKPT" show "$DIR" --ps) || fail "show --ps"
echo "$ps"
echo "$ps" | head -1 | grep -q '^PID *PPID *THREADS *COMMAND$' || fail "show --ps: no header: $ps"
echo "$ps" | grep -Eq "^$PID +0 +1 +rt_tree$" || fail "show --ps: no row for the root $PID"
pids=$(echo "$ps" | awk 'NR > 1 { print $1 }')
[ "$(echo "$pids" | wc -l)" = 5 ] || fail "show --ps: not 5 processes: $ps"
[ "$(echo "$ps" | grep -Ec "^[0-9]+ +$PID +1 +  rt_tree$")" = 2 ] || fail "show --ps: not two live children of $PID"
[ "$(echo "$ps" | grep -Ec "^[0-9]+ +$PID +0 +  [^ ]+ <zombie>$")" = 2 ] || fail "show --ps: not two zombies"
fds=$("$CKPT" show "$DIR" --fds) || fail "show --fds"
echo "$fds" | grep -q "^pid $PID (rt_tree)$" || fail "show --fds: no section for $PID: $fds"
echo "$fds" | grep -Eq '^  0 +character device +/dev/null' || fail "show --fds: no fd 0 on /dev/null: $fds"
echo "$fds" | grep -Eq "^  [0-9]+ +regular file +$WORK/tree-shared.txt" || fail "show --fds: no tree-shared.txt: $fds"
mems=$("$CKPT" show "$DIR" --mems) || fail "show --mems"
echo "$mems" | grep -q "^pid $PID (rt_tree)$" || fail "show --mems: no section for $PID"
echo "$mems" | grep -Eq '^  [0-9a-f]{16}-[0-9a-f]{16} +[0-9.]+ [KMG]iB rw-p +[1-9][0-9]* +\[stack\]$' ||
  fail "show --mems: no stack with its pages saved: $mems"
echo "$mems" | grep -Eq "^  [0-9a-f]{16}-[0-9a-f]{16} .* $TARGET_PROG\$" || fail "show --mems: the program's own file is not mapped"
# The pages the tables count are the pages images' sizes (each live process
# has its own here: rt_tree's children touch their stacks after the fork).
saved=$(echo "$mems" | awk '$1 == "total" { n += $(NF - 5) } END { print n }')
bytes=$(cat "$DIR"/pages-*.img | wc -c)
[ $((saved * $(getconf PAGESIZE))) -ge "$bytes" ] || fail "show --mems counts $saved pages, the pages images hold $bytes bytes"
echo "show --ps, --fds, --mems: ok"

# ---- corruptions -------------------------------------------------------------------
pids_free() {
  local p
  for p in $pids; do [ ! -d /proc/$p ] || return 1; done
}
# corrupt TAG EXPECTED-LINE CMD...: CMD run in a copy of the set (cwd), then
# verify must fail with EXPECTED-LINE and restore must refuse naming it.
corrupt() {
  local tag=$1 line=$2; shift 2
  local copy=$WORK/$tag
  rm -rf "$copy" && cp -a "$DIR" "$copy" || fail "$tag: cannot copy the set"
  (cd "$copy" && "$@") || fail "$tag: cannot make the corruption"
  local out rc
  out=$("$CKPT" verify "$copy" 2>"$WORK/$tag.verify.err"); rc=$?
  [ $rc = 1 ] || fail "$tag: verify exited $rc: $out"
  echo "$out" | grep -qxF "$line" || fail "$tag: verify did not say '$line': $out"
  [ "$(echo "$out" | wc -l)" = 1 ] || fail "$tag: verify named more than the one problem: $out"
  grep -q "1 problem" "$WORK/$tag.verify.err" || fail "$tag: verify's stderr: $(cat "$WORK/$tag.verify.err")"
  "$CKPT" restore -D "$copy" -d >"$WORK/$tag.restore.out" 2>&1 && fail "$tag: the restore succeeded"
  local says=${RESTORE_SAYS:-  $line}  # (restore's own words for a set without a manifest)
  grep -qF "$says" "$WORK/$tag.restore.out" || fail "$tag: restore did not say '$says': $(cat "$WORK/$tag.restore.out")"
  pids_free || fail "$tag: a pid of the tree exists after the refused restore"
  grep -q "Verified" "$copy/restore.log" && fail "$tag: restore.log says verified"
  echo "$tag: $line"
}
core=core-$PID.img; pages=pages-$PID.img
size=$(stat -c %s "$DIR/$core")
half=$((size / 2))
corrupt truncated "$core: truncated ($half of $size bytes)" truncate -s $half $core
flip() {  # one byte of FILE at OFFSET, xor 0x01
  python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' "$@"
}
corrupt flipped "$pages: SHA-256 differs (byte flipped?)" flip $pages $(( $(stat -c %s "$DIR/$pages") / 2 + 17 ))
corrupt deleted "mm-$PID.img: missing" rm mm-$PID.img
corrupt foreign "fdinfo-99.img: not in the manifest" cp fdinfo-$PID.img fdinfo-99.img
RESTORE_SAYS="images in $WORK/no-manifest are incomplete: no manifest.img" \
  corrupt no-manifest "manifest.img: missing: the images are incomplete (the dump did not finish, or a ckpt without manifests made them)" rm manifest.img

# ---- the set as dumped restores --------------------------------------------------------
"$CKPT" restore -D "$DIR" -d 2>"$WORK/restore.err" || fail "the restore of the set as dumped: $(cat "$WORK/restore.err")"
grep -q "Verified $images images" "$DIR/restore.log" || fail "restore.log does not say it verified $images images"
finish_target "the restored tree"
echo "PASS"

#!/usr/bin/env bash
# install_test.sh BUILD WORK: installs BUILD into prefixes under WORK and
# checks what lands there.
set -uo pipefail
BUILD=$1 WORK=$2
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK" || fail "cannot make $WORK"

# --- the default install ----------------------------------------------------
P=$WORK/prefix
cmake --install "$BUILD" --prefix "$P" >"$WORK/install.out" 2>&1 || fail "cmake --install: $(cat "$WORK/install.out")"
for f in bin/ckpt share/man/man8/ckpt.8 share/bash-completion/completions/ckpt; do
  [ -f "$P/$f" ] || fail "$f not installed: $(ls -R "$P")"
done
[ -x "$P/bin/ckpt" ] || fail "bin/ckpt is not executable"
[ ! -e "$P/bin/criu" ] && [ ! -L "$P/bin/criu" ] || fail "bin/criu installed without -DCKPT_INSTALL_CRIU_LINK=ON"
"$P/bin/ckpt" --version | grep -q '^ckpt version' || fail "the installed ckpt does not run"

# The man page: groff parses it without a warning (but for lines it cannot
# break: long option lists), and man renders it with
# every command of the guide.
warnings=$(groff -man -Tutf8 -ww -Wbreak -z "$P/share/man/man8/ckpt.8" 2>&1)
[ -z "$warnings" ] || fail "groff warns about ckpt.8: $warnings"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$P/share/man/man8/ckpt.8" >"$WORK/man.txt" 2>"$WORK/man.err" || fail "man -l: $(cat "$WORK/man.err")"
else
  groff -man -Tutf8 "$P/share/man/man8/ckpt.8" >"$WORK/man.txt" || fail "groff cannot render ckpt.8"
fi
for text in "CKPT(8)" "NAME" "ckpt check" "ckpt dump" "ckpt restore" "--tcp-established" "--ext-unix-sk"; do
  grep -qF -- "$text" <(sed 's/.\x08//g' "$WORK/man.txt") || fail "the rendered man page lacks '$text'"
done

# Bash completion, from the installed binary: sources cleanly, completes
# `ckpt d` to dump and `ckpt dump --tcp-e` to --tcp-established.
complete_line() {
  PATH=$P/bin:$PATH bash --norc -c '
    . "$1" || exit 1
    shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _ckpt
    echo "${COMPREPLY[*]}"' _ "$P/share/bash-completion/completions/ckpt" "$@"
}
[ "$(complete_line ckpt d)" = dump ] || fail "'ckpt d' completes to '$(complete_line ckpt d)', not dump"
[ "$(complete_line ckpt dump --tcp-e)" = --tcp-established ] ||
  fail "'ckpt dump --tcp-e' completes to '$(complete_line ckpt dump --tcp-e)'"
[ "$(complete_line ckpt restore --inherit)" = --inherit-fd ] ||
  fail "'ckpt restore --inherit' completes to '$(complete_line ckpt restore --inherit)'"
[ "$(complete_line ckpt check -)" != "" ] || fail "'ckpt check -' completes to nothing"

# --- with the criu link --------------------------------------------------------
# (The install script takes the option as cmake --install does from the cache.)
Q=$WORK/prefix-criu
cmake -DCMAKE_INSTALL_PREFIX="$Q" -DCKPT_INSTALL_CRIU_LINK=ON -P "$BUILD/cmake_install.cmake" >"$WORK/install-criu.out" 2>&1 ||
  fail "install with the criu link: $(cat "$WORK/install-criu.out")"
[ -L "$Q/bin/criu" ] && [ "$(readlink "$Q/bin/criu")" = ckpt ] || fail "bin/criu is not a link to ckpt: $(ls -l "$Q/bin")"
"$Q/bin/criu" --version >/dev/null 2>&1 || fail "the criu link does not run"
echo "PASS: install"

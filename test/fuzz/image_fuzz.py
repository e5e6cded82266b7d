#!/usr/bin/env python3
"""The image-fuzz test: `ckpt show` and `ckpt restore` over mutants of real
image sets.

    image_fuzz.py --ckpt CKPT_ASAN --plain-ckpt CKPT --prog PROG [--prog PROG...]
                  --workdir DIR [--seed N]

Each PROG (a round-trip program: it says ready by SIGUSR1 to
$CKPT_TEST_DRIVER and waits for SIGTERM) is started and dumped with the plain
ckpt, twice for the first one (the second set gives "a file from another
dump").  The unmutated sets must restore.  Then every mutant (one set copied,
one change made) is given to `CKPT show FILE` (file mutants), `CKPT show DIR`
and `CKPT restore -d -D DIR`, each under a time limit (30 s) and a memory limit
(ASan's hard_rss_limit_mb and max_allocation_size_mb; RLIMIT_AS for a ckpt
without ASan).  A run fails on:

  * a crash (a signal, an exit status other than 0 and 1), a sanitizer
    report, a hang (the time limit), the memory limit;
  * exit 0 of restore or show on a mutant the reader must refuse (below);
  * a refused restore that leaves a process behind.

Must be refused (the reader can tell, whatever the mutant's bytes):
  truncation inside the header or inside a record (not at a record
  boundary), of any image; any truncation of a pages image; a flip in the
  header; a length prefix made huge; a record with a huge varint length
  inside; a FIFO, a directory, a symlink (to /dev/zero, /dev/urandom, or to
  the very image in another copy) in place of an image; a sparse 50 GiB file
  in place of an image or an image extended to 50 GiB; a missing image
  (pages only if it holds pages); an extra image (core, mm, pages of a pid
  the pstree does not have); garbage after the record of inventory, core or
  fs; any image of another dump but page data (each carries its dump's
  set id in its header).
May restore (a flip in a value, a record boundary truncation of a
list, garbage after a list, a pages file of another dump that fits (no
header), an extra file that is no image): either refused or restored; a
restored tree is killed.

The manifest's own mutants must all be refused (by verify and restore; show
FILE judges it alone as above).  The stats images are written after the
manifest and are not in it, and restore never reads them: their mutants
must pass verify and restore (show FILE judges them as above).  The manifest (manifest.img: size and
SHA-256 of every image) makes restore
refuse every mutant but the two that change no image (unmutated, an extra
file that is no image) before any reader sees it.  So each mutant is given
twice:
  * with the manifest as dumped: `CKPT verify DIR` must exit 1 (0 for those
    two), and every 7th mutant also `CKPT restore`, which must refuse it,
    leaving nothing behind;
  * with the manifest rewritten to match the mutant (the sizes and SHA-256
    of the image files the mutant holds, under the dumped manifest's
    header), so that verify passes and the readers are fuzzed as before:
    the show and restore runs and rules above.  Files that are not regular
    (FIFO, symlink, directory) keep their dumped entry, and so do files over
    1 GiB (the 50 GiB ones: hashing them is not the point): verify refuses
    those mutants (`show FILE` still reads them alone).
`show` refuses the same as restore for single-file mutants it can judge
alone (every "must" above but missing, extra, foreign, sparse pages).

Prints the mutant count and the failure count; exits 1 on any failure.
"""
import argparse
import ctypes
import hashlib
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time

HEADER = 32  # signature, magic, version, image set id
SET_ID_AT = 16
RUN_TIMEOUT = 30
GIANT = 50 << 30
SINGLE = ("inventory", "core", "fs")
RAW = ("pages", "shmem-pages")
MANIFEST = "manifest.img"
REHASH_LIMIT = 1 << 30  # larger files keep their dumped manifest entry


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, payload):
    """One protobuf field: wire 0 is a varint (payload an int), 2 bytes."""
    if wire == 0:
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def read_manifest(path):
    """{name: (size, sha256)} of a manifest (images/manifest.proto), and its header."""
    data = open(path, "rb").read()
    entries = {}
    off = HEADER
    while off + 4 <= len(data):
        (length,) = struct.unpack_from("<I", data, off)
        rec = data[off + 4:off + 4 + length]
        off += 4 + length
        if rec[:1] != b"\x12":  # not a ManifestRecord.file
            continue
        # rec: tag, length, then ManifestFile's fields 1 name, 2 size, 3 sha256
        i = 1
        while rec[i] & 0x80:
            i += 1
        body = rec[i + 1:]
        j, name, size, digest = 0, None, None, None
        while j < len(body):
            tag = body[j]
            j += 1
            value, shift = 0, 0
            while True:
                b = body[j]
                j += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if tag & 7 == 0:
                size = value
            else:
                chunk = body[j:j + value]
                j += value
                if tag >> 3 == 1:
                    name = chunk.decode()
                else:
                    digest = chunk.decode()
        entries[name] = (size, digest)
    return data[:HEADER], entries


def kind_of(name):
    stem = name[:-4]
    if stem.startswith("shmem-pages-"):
        return "shmem-pages"
    return stem.split("-")[0]


def boundaries(data):
    """Offsets where a record ends (a clean end of file), for record images."""
    out = [HEADER]
    off = HEADER
    while off + 4 <= len(data):
        (length,) = struct.unpack_from("<I", data, off)
        if off + 4 + length > len(data):
            break
        off += 4 + length
        out.append(off)
    return out


def record_starts(data):
    return boundaries(data)[:-1]


class Fuzz:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = args.workdir
        self.failures = []
        self.mutants = 0
        self.restored = 0
        self.env = dict(os.environ)
        self.env["ASAN_OPTIONS"] = ("detect_leaks=0:exitcode=86:abort_on_error=0:hard_rss_limit_mb=1500:"
                                    "max_allocation_size_mb=1200:allocator_may_return_null=0:"
                                    "handle_segv=1:detect_odr_violation=0")
        self.env["UBSAN_OPTIONS"] = "halt_on_error=1:exitcode=87:print_stacktrace=1"
        self.asan = "asan" in os.path.basename(args.ckpt)

    # --- processes ---------------------------------------------------
    def reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def alive(self, pid):
        self.reap()
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    def kill_tree(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while self.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.alive(pid):
            raise SystemExit(f"pid {pid} does not die")

    def start_and_dump(self, prog, out):
        log = open(os.path.join(self.work, os.path.basename(out) + ".out"), "w")
        env = dict(os.environ, CKPT_TEST_DRIVER=str(os.getpid()))
        p = subprocess.Popen([prog], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                             close_fds=True, start_new_session=True)
        if signal.sigtimedwait([signal.SIGUSR1], 60) is None:
            p.kill()
            raise SystemExit(f"{prog} did not get ready")
        os.makedirs(out)
        r = subprocess.run([self.args.plain_ckpt, "dump", "-t", str(p.pid), "-D", out], capture_output=True,
                           text=True, timeout=120, close_fds=True)
        if r.returncode != 0:
            p.kill()
            raise SystemExit(f"cannot dump {prog}: {r.stderr}")
        p.wait(timeout=30)
        for junk in ("dump.log",):
            if os.path.exists(os.path.join(out, junk)):
                os.unlink(os.path.join(out, junk))
        return p.pid

    # --- one run -----------------------------------------------------
    def run(self, argv):
        def limit():
            os.closerange(3, 1024)
            if not self.asan:
                import resource
                resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

        try:
            r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=RUN_TIMEOUT,
                               env=self.env, preexec_fn=limit, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            return None, (e.stderr or b"")
        return r.returncode, r.stderr

    def judge(self, what, rc, err, must_refuse):
        bad = None
        if rc is None:
            bad = f"hang (no end within {RUN_TIMEOUT} s)"
        elif "AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err:
            bad = "sanitizer report"
        elif rc < 0:
            bad = f"killed by signal {-rc}"
        elif rc not in (0, 1):
            bad = f"exit status {rc}"
        elif rc == 0 and must_refuse:
            bad = "exit 0 on a set it must refuse"
        elif rc == 1 and "std::bad_alloc" in err:
            bad = "std::bad_alloc naming no file"
        if bad:
            self.failures.append(f"{what}: {bad}\n    {err.strip()[-800:]}")
        return rc

    def rewrite_manifest(self, d):
        """The manifest of the mutant's images as they are now (see the top)."""
        header, dumped = read_manifest(os.path.join(d, MANIFEST))
        files = []
        for name in sorted(os.listdir(d)):
            if not name.endswith(".img") or name == MANIFEST:
                continue
            st = os.lstat(os.path.join(d, name))
            if stat.S_ISREG(st.st_mode) and st.st_size <= REHASH_LIMIT:
                digest = hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest()
                files.append((name, st.st_size, digest))
            elif name in dumped:
                files.append((name,) + dumped[name])
        records = [field(1, 2, field(1, 2, b"sha256") + field(2, 0, len(files)))]
        for name, size, digest in files:
            records.append(field(2, 2, field(1, 2, name.encode()) + field(2, 0, size) + field(3, 2, digest.encode())))
        path = os.path.join(d, MANIFEST)
        os.unlink(path)
        with open(path, "wb") as f:
            f.write(header + b"".join(struct.pack("<I", len(r)) + r for r in records))

    def try_mutant(self, label, d, pid, must, show_file=None, show_must=None):
        self.mutants += 1
        # The manifest as dumped: only the mutants that change no image pass,
        # and those of the stats images, which are written after the
        # manifest and which restore never reads (show still judges them).
        outside = any(f"/{n} " in label for n in ("stats-dump.img", "stats-restore.img"))
        same = label.endswith(" unmutated") or label.endswith(" extra file that is no image") or outside
        show_verdict = must if show_must is None else show_must
        if outside:
            must = False
        rc, err = self.run([self.args.ckpt, "verify", d])
        self.judge(f"{label}: verify", rc, err, not same)
        if same and rc != 0:
            self.failures.append(f"{label}: verify refused a set whose images are as dumped\n    {err.strip()[-800:]}")
        if not same and self.mutants % 7 == 3:
            rc, err = self.run([self.args.ckpt, "restore", "-d", "-D", d])
            self.judge(f"{label}: restore (manifest as dumped)", rc, err, True)
            if rc == 0:
                self.kill_tree(pid)
            elif self.alive(pid):
                self.failures.append(f"{label}: restore refused (manifest as dumped) but left pid {pid} behind")
                self.kill_tree(pid)
        # The readers behind the manifest: rewritten to fit the mutant,
        # unless the mutant is the manifest's own (which no rewrite may
        # undo: restore must refuse it, whatever it is).
        if f"/{MANIFEST} " in label:
            must = True
        else:
            self.rewrite_manifest(d)
        if show_file is not None:
            rc, err = self.run([self.args.ckpt, "show", show_file])
            self.judge(f"{label}: show {os.path.basename(show_file)}", rc, err, show_verdict)
        if self.mutants % 7 == 0:
            rc, err = self.run([self.args.ckpt, "show", d])
            self.judge(f"{label}: show DIR", rc, err, False)
        rc, err = self.run([self.args.ckpt, "restore", "-d", "-D", d])
        self.judge(f"{label}: restore", rc, err, must)
        if rc == 0:
            self.restored += 1
            self.kill_tree(pid)
        elif self.alive(pid):
            self.failures.append(f"{label}: restore refused but left pid {pid} behind")
            self.kill_tree(pid)
        shutil.rmtree(d, ignore_errors=True)

    # --- mutants -----------------------------------------------------
    def copy(self, base):
        self.mutants_dir_n = getattr(self, "mutants_dir_n", 0) + 1
        d = os.path.join(self.work, f"m{self.mutants_dir_n}")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(base, d, symlinks=True)
        return d

    def file_mutants(self, base, pid, name, other, other_pid):
        path = os.path.join(base, name)
        data = open(path, "rb").read()
        kind = kind_of(name)
        raw = kind in RAW
        size = len(data)
        label = f"{os.path.basename(base)}/{name}"

        def mutant(tag, must, change, show_must=None, show=True):
            d = self.copy(base)
            target = os.path.join(d, name)
            change(target)
            self.try_mutant(f"{label} {tag}", d, pid, must, target if show else None, show_must)

        def write(target, content):
            os.unlink(target)
            with open(target, "wb") as f:
                f.write(content)

        # Truncations at many offsets: the header's, around each record
        # start, and random ones.
        ends = set() if raw else set(boundaries(data))
        offsets = {0, 1, 4, 8, 12, 15, 16, 17, 19, 20, size - 1, size // 2}
        if not raw:
            for s in record_starts(data)[:6]:
                offsets.update({s + 1, s + 3, s + 4, s + 5})
        while len(offsets) < 24 and size > 2:
            offsets.add(self.rng.randrange(1, size))
        for off in sorted(o for o in offsets if 0 <= o < size):
            must = raw or off not in ends or (kind in SINGLE and off == HEADER)
            if raw and size == 0:
                must = False
            # show judges a file alone: a pages image has no pagemap there.
            mutant(f"truncated at {off}", must, lambda t, off=off: os.truncate(t, off),
                   show_must=(not raw) and off not in ends)

        # Bit flips: in the header (refused), anywhere (either).
        for _ in range(3 if raw else 8):
            if size == 0:
                break
            at = self.rng.randrange(0, min(size, HEADER)) if not raw and self.rng.random() < 0.3 else \
                self.rng.randrange(0, size)
            bit = 1 << self.rng.randrange(8)
            flipped = bytearray(data)
            flipped[at] ^= bit
            must = not raw and at < HEADER
            # (A file alone has no inventory to hold its set id against.)
            mutant(f"bit {bit:#x} flipped at {at}", must, lambda t, c=bytes(flipped): write(t, c),
                   show_must=must and at < SET_ID_AT)

        if not raw:
            # Huge length prefixes.
            starts = record_starts(data)
            for s in starts[:2]:
                for huge in (0xFFFFFFFF, 0x7FFFFFFF, 0x04000001, size):
                    c = bytearray(data)
                    struct.pack_into("<I", c, s, huge)
                    mutant(f"length {huge:#x} at {s}", True, lambda t, c=bytes(c): write(t, c))
            # A huge varint length inside a record: field 15, wire type 2,
            # then a length of 2^35-1.
            if starts:
                s = starts[0]
                (length,) = struct.unpack_from("<I", data, s)
                inject = b"\x7a\xff\xff\xff\xff\x7f"
                c = data[:s] + struct.pack("<I", length + len(inject)) + inject + data[s + 4:]
                mutant("huge varint length in record 1", True, lambda t, c=c: write(t, c))
            # Garbage after the last record.
            garbage = bytes(self.rng.randrange(256) for _ in range(37))
            mutant("garbage appended", kind in SINGLE, lambda t: open(t, "ab").write(garbage))
            # A whole second record after a single one.
            if kind in SINGLE and len(starts) == 1:
                mutant("record repeated", True, lambda t: open(t, "ab").write(data[HEADER:]))

        # What is not a regular file, or not a bounded one.
        def fifo(t):
            os.unlink(t)
            os.mkfifo(t)

        def symlink(to):
            def change(t):
                os.unlink(t)
                os.symlink(to, t)
            return change

        def directory(t):
            os.unlink(t)
            os.mkdir(t)

        def giant(t):
            os.unlink(t)
            with open(t, "wb") as f:
                f.truncate(GIANT)

        mutant("a FIFO", True, fifo)
        # (show of a directory lists it: no image to refuse)
        mutant("a directory", True, directory, show_must=False)
        mutant("-> /dev/zero", True, symlink("/dev/zero"))
        mutant("-> /dev/urandom", True, symlink("/dev/urandom"))
        mutant("-> the same image elsewhere", True, symlink(os.path.abspath(path)))
        mutant("a sparse 50 GiB file", True, giant, show_must=not raw)
        mutant("extended to 50 GiB", True, lambda t: os.truncate(t, GIANT), show_must=not raw)
        mutant("missing", raw is False or size > 0, os.unlink, show=False)

        # The file of the same kind from another dump, under this name.
        if other:
            for oname in sorted(os.listdir(other)):
                if kind_of(oname) == kind and oname.endswith(".img"):
                    # Every image with a header carries its dump's set id.
                    must = not raw
                    src = os.path.join(other, oname)
                    mutant(f"from another dump ({oname})", must,
                           lambda t, src=src: (os.unlink(t), shutil.copyfile(src, t)), show_must=False)
                    break

    def set_mutants(self, base, pid):
        label = os.path.basename(base)

        def mutant(tag, must, change):
            d = self.copy(base)
            change(d)
            self.try_mutant(f"{label} {tag}", d, pid, must)

        names = sorted(os.listdir(base))
        core = next(n for n in names if n.startswith("core-"))
        mutant("extra core-999999.img", True, lambda d: shutil.copyfile(os.path.join(d, core),
                                                                        os.path.join(d, "core-999999.img")))
        mutant("extra mm-77777.img", True, lambda d: shutil.copyfile(os.path.join(d, f"mm-{pid}.img"),
                                                                     os.path.join(d, "mm-77777.img")))
        mutant("extra pages-424242.img", True, lambda d: open(os.path.join(d, "pages-424242.img"), "wb").close())
        mutant("extra file that is no image", False, lambda d: open(os.path.join(d, "notes.txt"), "w").write("x"))
        mutant("unmutated", False, lambda d: None)

    def main(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: restored trees are ours to reap
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        sets = []
        for i, prog in enumerate(self.args.prog):
            d = os.path.join(self.work, f"set-{os.path.basename(prog)}")
            sets.append((d, self.start_and_dump(prog, d)))
        foreign = os.path.join(self.work, "set-foreign")
        foreign_pid = self.start_and_dump(self.args.prog[0], foreign)

        # The sets as dumped restore, under the fuzzed ckpt too.
        for d, pid in sets:
            d2 = self.copy(d)
            rc, err = self.run([self.args.ckpt, "restore", "-d", "-D", d2])
            if rc != 0:
                raise SystemExit(f"the unmutated set {d} does not restore with {self.args.ckpt}: {err}")
            self.kill_tree(pid)
            shutil.rmtree(d2)

        start = time.monotonic()
        for n, (d, pid) in enumerate(sets):
            other = foreign if n == 0 else sets[0][0]
            # Of a thread's core images, the main thread's and one other:
            # the rest are alike.
            cores = sorted(n for n in os.listdir(d) if n.startswith("core-"))
            others = [c for c in cores if c != f"core-{pid}.img"]
            skip = set(others[1:])
            for name in sorted(os.listdir(d)):
                if name.endswith(".img") and name not in skip:
                    self.file_mutants(d, pid, name, other, None)
            self.set_mutants(d, pid)
        elapsed = time.monotonic() - start
        for f in self.failures:
            print("FAIL", f)
        print(f"image fuzz: {self.mutants} mutants, {self.restored} restored (and killed), "
              f"{len(self.failures)} failures, {elapsed:.0f} s, ckpt {os.path.basename(self.args.ckpt)}")
        shutil.rmtree(self.work, ignore_errors=True)
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--plain-ckpt", required=True)
    ap.add_argument("--prog", action="append", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=9)
    sys.exit(Fuzz(ap.parse_args()).main())


if __name__ == "__main__":
    main()

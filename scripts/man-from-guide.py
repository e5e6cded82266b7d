#!/usr/bin/env python3
"""man-from-guide.py GUIDE.md OUT.8 VERSION: the man page ckpt(8), written
from the user's guide (docs/user-guide.md) at build time, so the two never
disagree.  Understands the Markdown the guide uses: headings, paragraphs,
indented and fenced code, lists, tables, `code`, **bold**, *emphasis* and
links (the link text is kept)."""
import re
import sys


def escape(text):
    """Roff-safe text: backslashes, and a dot or quote at a line start."""
    text = text.replace("\\", "\\e")
    return text


def inline(text):
    text = escape(text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)          # links
    text = re.sub(r"`([^`]+)`", lambda m: r"\fB" + m.group(1).replace("-", r"\-") + r"\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", text)
    return text


def line_safe(text):
    """A line must not start with a control character."""
    if text.startswith((".", "'")):
        return "\\&" + text
    return text


def table_row(line):
    """The cells of a table row; a | inside `code` or escaped (\\|) is text."""
    cells, cell, code = [], "", False
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    k = 0
    while k < len(text):
        c = text[k]
        if c == "\\" and k + 1 < len(text) and text[k + 1] == "|":
            cell += "|"
            k += 2
            continue
        if c == "`":
            code = not code
        if c == "|" and not code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += c
        k += 1
    if cell.strip():
        cells.append(cell.strip())
    return cells


def convert(lines, version):
    out = [f'.TH CKPT 8 "" "ckpt {version}" "System Administration"']
    i = 0
    in_para = False

    def end_para():
        nonlocal in_para
        in_para = False

    while i < len(lines):
        line = lines[i].rstrip("\n")
        if line.startswith("```"):
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_safe(escape(lines[i].rstrip("\n"))))
                i += 1
            out += [".fi", ".RE"]
            i += 1
            end_para()
            continue
        if line.startswith("    ") and not in_para:
            out += [".PP", ".RS 4", ".nf"]
            while i < len(lines) and (lines[i].startswith("    ") or
                                      (not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith("    "))):
                out.append(line_safe(escape(lines[i].rstrip("\n")[4:])))
                i += 1
            out += [".fi", ".RE"]
            end_para()
            continue
        m = re.match(r"^(#+)\s+(.*)", line)
        if m:
            level, title = len(m.group(1)), m.group(2)
            if level == 1:
                out += [".SH NAME", "ckpt \\- checkpoint and restore Linux processes (" + inline(title) + ")"]
            elif level == 2:
                out.append(".SH " + inline(title).upper())
            else:
                out.append(".SS " + inline(title))
            i += 1
            end_para()
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = table_row(lines[i])
                if not all(re.fullmatch(r":?-+:?", c) for c in cells if c):
                    rows.append(cells)
                i += 1
            header, body = rows[0], rows[1:]
            for cells in body:
                out.append(".TP")
                out.append(line_safe(inline(cells[0])))
                rest = [f"{header[k]}: {cells[k]}" if len(cells) > 2 and k < len(header) else cells[k]
                        for k in range(1, len(cells)) if cells[k]]
                out.append(line_safe(inline("; ".join(rest))) if rest else "")
            end_para()
            continue
        m = re.match(r"^(\s*)([-*]|\d+\.)\s+(.*)", line)
        if m:
            depth = len(m.group(1)) // 2
            out.append(".IP \\(bu %d" % (2 + 2 * depth) if m.group(2) in "-*" else ".IP %s 4" % m.group(2))
            out.append(line_safe(inline(m.group(3))))
            i += 1
            in_para = True
            continue
        if not line.strip():
            end_para()
            i += 1
            continue
        if not in_para:
            out.append(".PP")
            in_para = True
        out.append(line_safe(inline(line.strip())))
        i += 1
    out += [".SH SEE ALSO", "criu(8); the documents under docs/ of ckpt's source."]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: man-from-guide.py GUIDE.md OUT.8 VERSION")
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.readlines()
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(convert(lines, sys.argv[3]))


main()

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Extracts, word for word, the commands a reader of the README types.

Usage: readme-steps.py SRCDIR OUTDIR

Writes into OUTDIR:
  quick-start.sh      the Quick start's scripts/run-demo line
  install.sh          the "Install and link" block
  private-prefix.sh   the private-prefix block of "Install and link"
  perl-install.sh     the install block of bindings/perl/README.md
  perl-private-prefix.sh  its block for a private prefix
  example-N/          one per `cc prog.c $(pkg-config ...)` line:
      prog.c          the C block the line follows in the README
      build.sh        the cc line
      run.sh          the lines of the same block that run the program
                      (`./a.out`), or ./a.out when the block shows none
      expected        output lines the block shows after them, if any
      example         the path of the example file the text names, if any
Blocks are found by an HTML comment `<!-- fresh-root-test: NAME -->` on
the line before their opening fence.  Exits 1, saying why, when a marked
block or a cc line's program is missing.
"""

import os
import re
import sys

FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*fresh-root-test:\s*([\w-]+)\s*-->\s*$")
CC_LINE = re.compile(r"^cc prog\.c \$\(pkg-config --cflags --libs [^)]*\)$")
EXAMPLE = re.compile(r"\(`((?:[\w.-]+/)+[\w.-]+\.c)`")


def blocks(path):
    """Yields (lang, lines, mark, text_after) for each fenced block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    mark = None
    out = []
    while i < len(lines):
        m = MARK.match(lines[i])
        if m:
            mark = m.group(1)
            i += 1
            continue
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                mark = None
            i += 1
            continue
        lang = m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            sys.exit(f"{path}: unterminated block at line {i + 1}")
        # The prose up to the next block (where an example file is named).
        k = j + 1
        while k < len(lines) and not FENCE.match(lines[k]):
            k += 1
        out.append((lang, lines[i + 1:j], mark, "\n".join(lines[j + 1:k])))
        mark = None
        i = j + 1
    return out


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    readme = blocks(os.path.join(src, "README.md"))
    perl = blocks(os.path.join(src, "bindings/perl/README.md"))

    marked = {}
    for lang, body, mark, _ in readme + perl:
        if mark:
            if mark in marked:
                sys.exit(f"two blocks are marked fresh-root-test: {mark}")
            marked[mark] = body
    names = ("install", "private-prefix", "perl-install", "perl-private-prefix")
    for name in ("quick-start",) + names:
        if name not in marked:
            sys.exit(f"no block is marked <!-- fresh-root-test: {name} -->")

    demo = [l for l in marked["quick-start"] if l.split()[:1] == ["scripts/run-demo"]]
    if len(demo) != 1:
        sys.exit("the quick-start block has no scripts/run-demo line")
    write(os.path.join(out, "quick-start.sh"), demo[0] + "\n")
    for name in names:
        write(os.path.join(out, name + ".sh"), "\n".join(marked[name]) + "\n")

    n = 0
    program = None
    for lang, body, mark, after in readme:
        if lang == "c":
            program = body
            continue
        cc = [l for l in body if CC_LINE.match(l)]
        if lang != "sh" or mark or not cc:
            continue
        if len(cc) != 1 or program is None:
            sys.exit(f"cannot tell which program `{cc[0]}` builds")
        n += 1
        d = os.path.join(out, f"example-{n}")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "prog.c"), "\n".join(program) + "\n")
        write(os.path.join(d, "build.sh"), cc[0] + "\n")
        rest = body[body.index(cc[0]) + 1:]
        runs = [l for l in rest if l.startswith("./a.out")]
        shown = [l for l in rest if l and not l.startswith("./a.out")]
        write(os.path.join(d, "run.sh"), "\n".join(runs or ["./a.out"]) + "\n")
        if shown:
            write(os.path.join(d, "expected"), "\n".join(shown) + "\n")
        m = EXAMPLE.search(after)
        if m:
            write(os.path.join(d, "example"), m.group(1) + "\n")
        program = None
    if n == 0:
        sys.exit("README.md has no `cc prog.c $(pkg-config ...)` line")
    print(n)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tcpdump's answers for the filter agreement test.

For every expression in expressions.txt and every capture of the tcpdump
corpus, store which frames `tcpdump -r FILE EXPR` selects, by their index in
the file (or tcpdump's error). tcpdump numbers only the packets it prints,
so each selected packet is matched back to its place in the unfiltered
output by its timestamp and bytes.

    python3 tests/filter/make.py     # rewrites tests/filter/tcpdump.tsv
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "corpus", "tcpdump", "pcaps")
ENV = dict(os.environ, TZ="UTC", LC_ALL="C")


def packets(path, expr=None):
    args = ["tcpdump", "-tt", "-n", "-xx", "-r", path]
    if expr is not None:
        args.append(expr)
    p = subprocess.run(args, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        msg = [l for l in p.stderr.splitlines() if not l.startswith("reading from file")]
        return None, (msg[-1] if msg else "error")
    out, cur = [], None
    for line in p.stdout.splitlines():
        if line.startswith("\t0x"):
            cur[1].append(line.split(":", 1)[1][:41].replace(" ", ""))
        else:
            cur = [line.split(" ", 1)[0], []]
            out.append(cur)
    return [(ts, "".join(h)) for ts, h in out], None


def main():
    exprs = [l.strip() for l in open(os.path.join(HERE, "expressions.txt")) if l.strip()]
    files = sorted(os.listdir(PCAPS))
    rows = []
    for f in files:
        path = os.path.join(PCAPS, f)
        every, err = packets(path)
        if every is None:
            continue
        for i, e in enumerate(exprs):
            sel, err = packets(path, e)
            if sel is None:
                rows.append(f"{i}\t{f}\tERROR {err}")
                continue
            used, idx = set(), []
            for pkt in sel:
                for n, q in enumerate(every):
                    if n not in used and q == pkt:
                        used.add(n)
                        idx.append(n + 1)
                        break
            rows.append(f"{i}\t{f}\t{','.join(map(str, idx))}")
    with open(os.path.join(HERE, "tcpdump.tsv"), "w") as out:
        out.write(f"# tcpdump {subprocess.run(['tcpdump', '--version'], capture_output=True, text=True).stdout.split()[2]}: expression index, file, selected frames (1-based)\n")
        out.write("\n".join(rows) + "\n")
    print(f"{len(exprs)} expressions x {len(files)} captures: {len(rows)} answers", file=sys.stderr)


if __name__ == "__main__":
    main()

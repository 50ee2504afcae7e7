#!/usr/bin/env python3
"""Time commands in alternation; report best wall time and peak RSS.

usage: measure.py ROUNDS NAME=COMMAND [NAME=COMMAND ...]
Each COMMAND runs through sh with stdout to /dev/null. Prints one line per
name: best and median seconds over the rounds, and the largest max-RSS;
then the ratio of each later name's times to the first's.
"""
import os
import subprocess
import sys
import time


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"command failed ({status}): {cmd}")
    return dt, usage.ru_maxrss  # kilobytes on Linux


def main():
    rounds = int(sys.argv[1])
    jobs = [a.split("=", 1) for a in sys.argv[2:]]
    times = {n: [] for n, _ in jobs}
    rss = {n: 0 for n, _ in jobs}
    for _ in range(rounds):
        for name, cmd in jobs:
            dt, kb = run(cmd)
            times[name].append(dt)
            rss[name] = max(rss[name], kb)
    for name, _ in jobs:
        ts = sorted(times[name])
        print(f"{name}: best {ts[0]:.3f} s, median {ts[len(ts)//2]:.3f} s, peak RSS {rss[name]/1024:.1f} MiB")
    a = jobs[0][0]
    for b, _ in jobs[1:]:
        print(f"ratio {b}/{a}: {min(times[b])/min(times[a]):.2f}x (best), "
              f"{sorted(times[b])[rounds//2]/sorted(times[a])[rounds//2]:.2f}x (median)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Real TCP traffic on loopback for the benchmarks.

Run inside a private network namespace (bench/read.sh does that). Several
client connections send messages of random size (1..900 bytes) with
TCP_NODELAY to an echo server on 127.0.0.1, so the capture holds many small
and mid-sized segments, ACKs, handshakes and teardowns. It stops by itself
when the capture file named by --watch reaches --mb megabytes, or after
--seconds, whichever comes first; every loop is bounded.
"""
import argparse
import os
import random
import socket
import threading
import time

PORT = 9300


def serve(listener, stop):
    def echo(conn):
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def client(seed, stop, max_messages):
    rnd = random.Random(seed)
    payload = bytes(rnd.getrandbits(8) for _ in range(1400))
    sent = 0
    while not stop.is_set() and sent < max_messages:
        with socket.create_connection(("127.0.0.1", PORT)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A connection carries a few thousand messages, then closes, so
            # the capture has many handshakes and teardowns too.
            for _ in range(rnd.randint(200, 4000)):
                if stop.is_set() or sent >= max_messages:
                    break
                n = rnd.randint(1, 900)
                s.sendall(payload[:n])
                got = 0
                while got < n:
                    chunk = s.recv(n - got)
                    if not chunk:
                        return
                    got += len(chunk)
                sent += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--watch", required=True)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    stop = threading.Event()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(128)
    threading.Thread(target=serve, args=(listener, stop), daemon=True).start()
    clients = [threading.Thread(target=client, args=(i, stop, 5_000_000), daemon=True) for i in range(args.clients)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + args.seconds
    limit = args.mb * 1024 * 1024
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            if os.path.getsize(args.watch) >= limit:
                break
        except OSError:
            pass
    stop.set()
    for c in clients:
        c.join(timeout=5)


if __name__ == "__main__":
    main()

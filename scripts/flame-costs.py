#!/usr/bin/env python3
"""Groups a folded flame graph's samples by what the time was spent on.

Kernel work is recognised anywhere in a stack (page faults, then thread
parking, then socket I/O); any other stack is walked from its leaf upward
and counted under the first frame that matches a category below (the
library or module doing the work). Every sample counts once.

    scripts/flame-costs.py target/profile/burst-mariadb.folded
"""
import collections
import re
import sys

KERNEL = [
    ("page faults on fresh memory (kernel zeroing pages)", r"clear_page|exc_page_fault|do_anonymous_page|handle_mm_fault"),
    ("threads parking and waking (kernel scheduler, futex)", r"finish_task_switch|futex|^schedule$|__schedule|try_to_wake_up|wake_up_q"),
    ("socket I/O and epoll (kernel)", r"tcp_|sock_|inet_|__sys_(send|recv)|do_writev|epoll|skb|__netif|net_rx"),
]

CATEGORIES = [
    ("other kernel", r"entry_SYSCALL|do_syscall|syscall_exit|irqentry|_raw_spin|x64_sys|^__x64"),
    ("memory allocation (mimalloc)", r"^mi_|^_mi_|mimalloc"),
    ("sqlx: MySQL protocol, statement encode/decode", r"sqlx"),
    ("URL routing (actix-router regex matching)", r"actix_router|regex"),
    ("HTTP/1 parsing and writing (actix-http, httparse)", r"actix_http|httparse|http::header"),
    ("JSON (serde_json)", r"serde_json"),
    ("access token verification (jsonwebtoken, HMAC)", r"jsonwebtoken|hmac|sha2::|base64"),
    ("request log spans (tracing)", r"tracing"),
    ("metrics (metrics, prometheus exporter)", r"metrics"),
    ("rate limit (governor)", r"governor"),
    ("orders: placing, answers, order writer", r"stampede::actors::orders"),
    ("stock: intake, SKU actor, ledger, persister", r"stampede::actors::stock|stampede::domain::ledger"),
    ("group commit", r"stampede::actors::group_commit"),
    ("ractor messaging", r"ractor::"),
    ("HTTP handlers and extractors (stampede::http)", r"stampede::http"),
    ("uuid / randomness", r"uuid|rand::|getrandom"),
    ("tokio runtime (tasks, timers, channels)", r"tokio"),
    ("actix-web services", r"actix_web|actix_service|actix_server"),
    ("libc memcpy/memset", r"mem(cpy|move|set|cmp)"),
]


def main(path: str) -> None:
    counts = collections.Counter()
    total = 0
    for line in open(path):
        stack, n = line.rstrip("\n").rsplit(" ", 1)
        n = int(n)
        total += n
        frames = stack.split(";")
        kernel = next(
            (name for name, pat in KERNEL if any(re.search(pat, f) for f in frames)), None
        )
        if kernel:
            counts[kernel] += n
            continue
        for frame in reversed(frames):
            hit = next((name for name, pat in CATEGORIES if re.search(pat, frame)), None)
            if hit:
                counts[hit] += n
                break
        else:
            counts["unattributed"] += n
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main(sys.argv[1])

"""Summarizes load-tests/run.sh results: medians per scenario and target,
the ratios privgate/nginx and privgate/direct, and privgate-policy/nginx and
privgate-policy/privgate, all from the same run."""
import json
import re
import statistics
import sys

TARGETS = ["direct", "nginx", "hyper", "privgate", "privgate-policy", "privgate-shed", "privgate-overload"]

rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["target"]), []).append(r)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


summary = {}
for (scenario, target), runs in by.items():
    eps = med([r["load"]["events_per_s"] for r in runs])
    cpu = med([
        r["cpu_ticks"] / r["tick"] * 1e6 / r["load"]["events_ok"]
        for r in runs if r["load"]["events_ok"] and target != "direct"
    ]) if target != "direct" else None
    summary[(scenario, target)] = {
        "eps": eps,
        "p50": med([r["load"]["p50_us"] for r in runs]),
        "p99": med([r["load"]["p99_us"] for r in runs]),
        # Of the accepted (2xx) requests only.
        "ok_p50": med([r["load"].get("ok_p50_us", 0) for r in runs]),
        "ok_p99": med([r["load"].get("ok_p99_us", 0) for r in runs]),
        "cpu": cpu,
        "rss": max(r["rss_kib"] for r in runs) / 1024,
        "rejected": sum(r["load"]["rejected"] + r["load"]["errors"] for r in runs),
        "verify": "; ".join(r["verify"] for r in runs if r["verify"]),
        # CPU per request, answered or refused (the shed scenario's measure).
        "cpu_req": med([
            r["cpu_ticks"] / r["tick"] * 1e6 / r["load"]["requests"]
            for r in runs if r["load"]["requests"]
        ]) if target != "direct" else None,
        # Of it, the kernel's (stime: TCP on loopback, epoll, wakeups).
        "sys_req": med([
            r.get("sys_ticks", 0) / r["tick"] * 1e6 / r["load"]["requests"]
            for r in runs if r["load"]["requests"]
        ]) if target != "direct" else None,
        "requests": sum(r["load"]["requests"] for r in runs),
    }


def pii(s):
    seen = re.findall(r"pii_seen=(\d+)", s["verify"])
    return sum(map(int, seen)) if seen else "?"


def split(s):
    """CPU per request as user + kernel time."""
    return f"user {s['cpu_req'] - s['sys_req']:.2f} + kernel {s['sys_req']:.2f}"


def ratios(scenario, name, s, other_name, other, ng):
    """One line: `name` against nginx and against `other`, same run."""
    print(
        f"{scenario}: {name}/nginx = {s['eps'] / ng['eps']:.2f}x events/s, "
        f"{name}/{other_name} = {s['eps'] / other['eps']:.2f}x events/s, "
        f"cpu {name}/nginx = {s['cpu'] / ng['cpu']:.2f}x per event, "
        f"{name} peak RSS {s['rss']:.1f} MiB; delivery: {s['verify']}"
    )


print()
print("scenario  target           events/s   p50_us   p99_us  cpu_us/event  peak_rss_MiB  refused")
for (scenario, target), s in sorted(summary.items(), key=lambda kv: (kv[0][0] != "single", TARGETS.index(kv[0][1]))):
    cpu = f"{s['cpu']:12.2f}" if s["cpu"] is not None else "           -"
    rss = f"{s['rss']:12.1f}" if target != "direct" else "           -"
    print(f"{scenario:8}  {target:15} {s['eps']:10.0f} {s['p50']:8.0f} {s['p99']:8.0f} {cpu}  {rss}  {s['rejected']:7}")
print()
for scenario in sorted({k[0] for k in summary}, key=lambda s: s != "single"):
    pg = summary.get((scenario, "privgate"))
    ng = summary.get((scenario, "nginx"))
    di = summary.get((scenario, "direct"))
    pp = summary.get((scenario, "privgate-policy"))
    if pg and ng and di:
        ratios(scenario, "privgate", pg, "direct", di, ng)
    if pp and ng and pg:
        ratios(scenario, "privgate-policy", pp, "privgate", pg, ng)
    sh = summary.get((scenario, "privgate-shed"))
    if sh and ng:
        # Every request after the first thousand events is refused: CPU per
        # request is what a 503 costs, against nginx answering 503 itself.
        print(
            f"{scenario}: privgate-shed refused {sh['rejected']} of {sh['requests']} requests, "
            f"cpu {sh['cpu_req']:.2f} us/request against nginx's 503 {ng['cpu_req']:.2f} "
            f"({sh['cpu_req'] / ng['cpu_req']:.2f}x), p99 {sh['p99']:.0f} us; "
            f"{split(sh)} us (nginx {split(ng)})"
        )
        hy = summary.get((scenario, "hyper"))
        if hy:
            # The sink's bare hyper 503: the floor of a hyper/tokio server.
            print(
                f"{scenario}: bare hyper 503 (sink, one thread) cpu {hy['cpu_req']:.2f} us/request: "
                f"{split(hy)}; "
                f"privgate-shed/hyper = {sh['cpu_req'] / hy['cpu_req']:.2f}x"
            )
    ov = summary.get((scenario, "privgate-overload"))
    if ov and pp:
        # The backend took half of what privgate-policy delivered: what was
        # accepted, and how long accepted requests took against no overload.
        print(
            f"{scenario}: backend paced at half of privgate-policy's {pp['eps']:.0f} events/s: "
            f"privgate-overload accepted {ov['eps']:.0f} events/s, refused {ov['rejected']} of "
            f"{ov['requests']} requests; accepted p50/p99 {ov['ok_p50']:.0f}/{ov['ok_p99']:.0f} us "
            f"against {pp['ok_p50']:.0f}/{pp['ok_p99']:.0f} us without overload "
            f"(p99 {ov['ok_p99'] / pp['ok_p99']:.2f}x); cpu {ov['cpu_req']:.2f} us/request "
            f"({split(ov)}); "
            f"delivery: {ov['verify']}"
        )
        refused = ov["rejected"] / ov["requests"] if ov["requests"] else 0
        if 0 < refused < 1:
            # What is left of the CPU per request once each accepted one is
            # charged what privgate-policy spent per event without overload.
            each = (ov["cpu_req"] - (1 - refused) * pp["cpu"]) / refused
            print(
                f"{scenario}: {refused:.0%} of requests refused; a refusal costs ~{each:.2f} us of CPU "
                f"(accepted ones charged privgate-policy's {pp['cpu']:.2f} us/event)"
            )
    if pp:
        # PII of the load event that reached the sink (sink.rs): must be 0
        # with the shipped policy; privgate without rules shows the count works.
        pp_pii = pii(pp)
        verdict = "ok" if pp_pii == 0 else "FAIL"
        without = f" (privgate without rules: pii_seen={pii(pg)})" if pg else ""
        print(f"{scenario}: policy check: privgate-policy pii_seen={pp_pii} {verdict}{without}")

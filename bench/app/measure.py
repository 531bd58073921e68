"""Measures the app and the empty window (see bench/app/run): first paint
(launch until the X screen shows painted text) and idle PSS after a settle
time, alternating the two programs for a few rounds; prints medians and
ratios against the empty window."""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from xapp import gray_levels, launch, stop, virtual_display, wait_paint

# Issue 14's targets, both against the empty window built the same way.
PSS_TARGET = 1.2
PAINT_TARGET = 1.1


def descendants(root):
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(binary, settle, env_extra):
    with virtual_display() as display:
        home = tempfile.mkdtemp(prefix="nfops-bench-app-")
        try:
            base = gray_levels(display)
            t0 = time.monotonic()
            # Always a private session bus: the same conditions for both programs.
            app = launch(binary, display, dict(env_extra, NFOPS_HOME=home), own_bus=True)
            paint = wait_paint(display, app, base, t0)
            time.sleep(settle)
            # The app and its WebKit processes; not the session bus and its helpers.
            procs = [p for p in descendants(app.pid) if not comm(p).startswith(("dbus-", "at-spi", "xdg-"))]
            pss = {p: pss_kib(p) for p in procs}
            total = sum(pss.values()) / 1024.0
            by_name = {}
            for p, kib in pss.items():
                by_name[comm(p)] = by_name.get(comm(p), 0) + kib / 1024.0
            names = [f"{n} {v:.0f}" for n, v in sorted(by_name.items())]
            stop(app)
            return paint, total, names
        finally:
            shutil.rmtree(home, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--empty", required=True)
    ap.add_argument("--profile", default="debug")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=20.0, help="idle seconds before PSS is read")
    args = ap.parse_args()
    for label, binary in (("--app", args.app), ("--empty", args.empty)):
        if not os.access(binary, os.X_OK):
            sys.exit(f"measure: {label} {binary} is not an executable file (did the build make it?)")
    app_env = {"NFOPS_START_PAGE": "metrics"}
    stack = os.environ.get("NFOPS_STACK_DIR")
    if stack and os.path.exists(os.path.join(stack, "environments.toml")):
        app_env["NFOPS_CONFIG"] = os.path.join(stack, "environments.toml")
    results = {"app": [], "empty": []}
    for r in range(args.rounds):
        for name, binary, extra in (("empty", args.empty, {}), ("app", args.app, app_env)):
            paint, pss, names = measure(binary, args.settle, extra)
            results[name].append((paint, pss))
            shown = f"{paint:.2f} s" if paint is not None else "not seen in 30 s"
            print(f"round {r + 1} {name:<5} first paint {shown:<16} idle PSS {pss:7.1f} MiB  (MiB: {', '.join(names)})", flush=True)

    def med(name, i):
        vals = [x[i] for x in results[name] if x[i] is not None]
        return statistics.median(vals) if vals else None

    ap_, ep = med("app", 0), med("empty", 0)
    am, em = med("app", 1), med("empty", 1)
    print(f"\nprofile {args.profile}, {args.rounds} rounds, medians (Metrics page open{' on the stack' if 'NFOPS_CONFIG' in app_env else ', this machine'}):")
    measured = True
    if am and em:
        print(f"idle PSS     app {am:.1f} MiB   empty window {em:.1f} MiB   ratio {am / em:.2f}x (target <= {PSS_TARGET}x)")
    else:
        print("idle PSS     not measured (a program did not start)")
        measured = False
    if ap_ is not None and ep is not None:
        print(f"first paint  app {ap_:.2f} s     empty window {ep:.2f} s     ratio {ap_ / ep:.2f}x (target <= {PAINT_TARGET}x)")
    else:
        print("first paint  not measured (no painted frame seen)")
        measured = False
    if not measured:
        sys.exit("measure: the run did not measure both programs; see the rounds above")


if __name__ == "__main__":
    main()

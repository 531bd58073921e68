"""Measures the app and the empty window (see bench/app/run): first paint
(launch until the X screen shows painted text) and idle PSS after a settle
time, alternating the two programs for a few rounds; prints medians and
ratios against the empty window."""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

PSS_TARGET = 1.25
PAINT_TARGET_S = 1.5


def free_display():
    for n in range(140, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise SystemExit("no free X display number between :140 and :199")


def gray_levels(display):
    """Distinct gray levels of a 320x200 crop of the screen's top left."""
    out = subprocess.run(
        ["import", "-display", display, "-window", "root", "-crop", "640x400+0+0", "-resize", "320x200", "-depth", "8", "gray:-"],
        capture_output=True,
    )
    return len(set(out.stdout)) if out.returncode == 0 else 0


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


def measure(binary, name, settle, env_extra):
    n = free_display()
    display = f":{n}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until = time.time() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            if time.time() > until:
                raise SystemExit("Xvfb did not start")
            time.sleep(0.05)
        home = tempfile.mkdtemp(prefix="nfops-bench-app-")
        env = dict(os.environ, DISPLAY=display, WEBKIT_DISABLE_DMABUF_RENDERER="1", NFOPS_HOME=home, **env_extra)
        base = gray_levels(display)
        t0 = time.monotonic()
        app = subprocess.Popen(["dbus-run-session", "--", binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        paint = None
        deadline = t0 + 30
        while time.monotonic() < deadline:
            if gray_levels(display) >= max(8, base + 4):
                paint = time.monotonic() - t0
                break
            time.sleep(0.02)
        time.sleep(settle)
            # The app and its WebKit processes; not the session bus and its helpers.
        procs = [p for p in descendants(app.pid) if not comm(p).startswith(("dbus-", "at-spi", "xdg-"))]
        pss = {p: pss_kib(p) for p in procs}
        total = sum(pss.values()) / 1024.0
        by_name = {}
        for p, kib in pss.items():
            by_name[comm(p)] = by_name.get(comm(p), 0) + kib / 1024.0
        names = [f"{n} {v:.0f}" for n, v in sorted(by_name.items())]
        os.killpg(app.pid, signal.SIGTERM)
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
        shutil.rmtree(home, ignore_errors=True)
        return paint, total, names
    finally:
        xvfb.terminate()
        xvfb.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--empty", required=True)
    ap.add_argument("--profile", default="debug")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=20.0, help="idle seconds before PSS is read")
    args = ap.parse_args()
    app_env = {"NFOPS_START_PAGE": "metrics"}
    stack = os.environ.get("NFOPS_STACK_DIR")
    if stack and os.path.exists(os.path.join(stack, "environments.toml")):
        app_env["NFOPS_CONFIG"] = os.path.join(stack, "environments.toml")
    results = {"app": [], "empty": []}
    for r in range(args.rounds):
        for name, binary, extra in (("empty", args.empty, {}), ("app", args.app, app_env)):
            paint, pss, names = measure(binary, name, args.settle, extra)
            results[name].append((paint, pss))
            shown = f"{paint:.2f} s" if paint is not None else "not seen in 30 s"
            print(f"round {r + 1} {name:<5} first paint {shown:<16} idle PSS {pss:7.1f} MiB  (MiB: {', '.join(names)})", flush=True)

    def med(name, i):
        vals = [x[i] for x in results[name] if x[i] is not None]
        return statistics.median(vals) if vals else None

    ap_, ep = med("app", 0), med("empty", 0)
    am, em = med("app", 1), med("empty", 1)
    print(f"\nprofile {args.profile}, {args.rounds} rounds, medians (Metrics page open{' on the stack' if 'NFOPS_CONFIG' in app_env else ', this machine'}):")
    if am and em:
        print(f"idle PSS     app {am:.1f} MiB   empty window {em:.1f} MiB   ratio {am / em:.2f}x (target <= {PSS_TARGET}x)")
    else:
        print("idle PSS     not measured (a program did not start)")
    if ap_ is not None and ep is not None:
        print(f"first paint  app {ap_:.2f} s     empty window {ep:.2f} s     ratio {ap_ / ep:.2f}x (target app <= {PAINT_TARGET_S} s)")
    else:
        print("first paint  not measured (no painted frame seen)")


if __name__ == "__main__":
    main()

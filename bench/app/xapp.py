"""Runs a desktop program on its own Xvfb and watches its screen: the
helpers bench/app/measure.py times and scripts/bundle-test screenshots with.

As a script it opens one program, waits for its first paint and a settle
time, and writes a screenshot:

    python3 bench/app/xapp.py shot --app /usr/bin/nfops-desktop --out docs/installed-linux.png
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

SCREEN = "1280x800x24"


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


@contextlib.contextmanager
def virtual_display():
    """A fresh Xvfb on a free display number; yields ":N", stops it after."""
    n = free_display()
    display = f":{n}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", SCREEN, "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until = time.time() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            if time.time() > until or xvfb.poll() is not None:
                raise SystemExit(f"Xvfb {display} did not start")
            time.sleep(0.05)
        yield display
    finally:
        xvfb.terminate()
        xvfb.wait()


def launch(binary, display, env_extra, log=subprocess.DEVNULL, own_bus=None):
    """Starts `binary` on `display` in its own process group. With `own_bus`
    (default: when the environment has no session bus) it gets a private one
    (dbus-run-session); a caller inside scripts/with-keyring keeps that bus,
    so the program sees the keyring."""
    env = dict(os.environ, DISPLAY=display, WEBKIT_DISABLE_DMABUF_RENDERER="1", **env_extra)
    if own_bus is None:
        own_bus = not env.get("DBUS_SESSION_BUS_ADDRESS")
    argv = ["dbus-run-session", "--", binary] if own_bus else [binary]
    return subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)


def wait_paint(display, app, base, t0, timeout=30.0):
    """Seconds from `t0` (time.monotonic() before launch) until the screen
    shows painted text (more gray levels than before launch), or None if not
    within `timeout` or the app exited."""
    while time.monotonic() < t0 + timeout:
        if gray_levels(display) >= max(8, base + 4):
            return time.monotonic() - t0
        if app.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def stop(app):
    """TERM to the program's process group, KILL after 10 s; returns its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(app.pid, signal.SIGTERM)
    try:
        return app.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
        return app.wait()


def shot(args):
    log = open(args.log, "wb") if args.log else subprocess.DEVNULL
    with virtual_display() as display:
        base = gray_levels(display)
        t0 = time.monotonic()
        app = launch(args.app, display, {}, log)
        try:
            paint = wait_paint(display, app, base, t0)
            if paint is None:
                code = app.poll()
                why = f"it exited with code {code}" if code is not None else "nothing painted within 30 s"
                sys.exit(f"xapp: {args.app} did not paint on {display}: {why}" + (f" (its output: {args.log})" if args.log else ""))
            # The first paint is the shell; the pages fill in as their data arrives.
            time.sleep(args.settle)
            if app.poll() is not None:
                sys.exit(f"xapp: {args.app} exited (code {app.returncode}) while settling")
            subprocess.run(["import", "-display", display, "-window", "root", args.out], check=True)
            print(f"xapp: first paint after {paint:.2f} s; screenshot after {args.settle:.0f} s more: {args.out}")
        finally:
            code = stop(app)
    # -15: the TERM we sent; 0: it closed cleanly on it.
    if code not in (0, -signal.SIGTERM):
        sys.exit(f"xapp: {args.app} ended with code {code} when stopped")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("shot", help="open a program, wait for paint + settle, screenshot the screen")
    s.add_argument("--app", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--settle", type=float, default=20.0, help="seconds after first paint before the screenshot")
    s.add_argument("--log", help="file for the program's stdout/stderr")
    args = ap.parse_args()
    shot(args)


if __name__ == "__main__":
    main()

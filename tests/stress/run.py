#!/usr/bin/env python3
"""Debian's stress-ng, stressor by stressor, natively and under the sentry.

For each class (filesystem, io, memory, os, pipe, scheduler, signal, interrupt, network), every
stressor of the class runs as `stress-ng --<stressor> 0 --timeout 2s --verify --metrics-brief`
(one instance per CPU, as `--seq 0` does) natively and under `sentry run --platform=P /` for
each platform. A stressor that appears in several classes runs once, under its first class.
The table goes to tests/STRESS.md (and the raw results to tests/stress/results.json): for each
stressor, its outcome natively and under each platform, and for a stressor that passes natively
and not under the sentry, the last line stress-ng or the sentry printed about it.

Outcomes follow stress-ng's exit status: 0 pass; 2 fail (a stressor reported a failure or a
verification error); 3 or 4 skip (resources missing, not implemented here); anything else
error; `hang` when the run outlives its deadline (it is killed); `sentry` when the sentry
itself failed (exit 125) or died of a signal.

The JSON and the table are written again after each class, so an interrupted run keeps the
classes it finished; `--merge` keeps the rows already in the JSON (of other classes) and skips
their stressors, so classes can be run in separate invocations, in the order above.

Beware of `resources`: it fills the file system of /tmp (fallocated O_TMPFILE files) while it
runs, and under --platform=ptrace it runs until its 60 s deadline; the SysV message queues of
a sentry killed at the deadline stay on the host (`ipcs -q`, owner nobody).

Usage: tests/stress/run.py [--sentry target/x86_64-unknown-linux-gnu/release/sentry] [--classes a,b] [--platforms ptrace,seccomp] [--merge]
Needs stress-ng (apt-get install stress-ng). It takes about 40 minutes on a 2-CPU machine.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

CLASSES = ["filesystem", "io", "memory", "os", "pipe", "scheduler", "signal", "interrupt", "network"]
REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60  # seconds: far above 2 s of stress and the stressor's own teardown


def stressors_of(cls):
    out = subprocess.run(["stress-ng", f"--class", f"{cls}?"], capture_output=True, text=True)
    text = (out.stdout + out.stderr).strip()
    return text.split("stressors:", 1)[1].split() if "stressors:" in text else []


def outcome(code):
    if code == 0:
        return "pass"
    if code == 2:
        return "fail"
    if code in (3, 4):
        return "skip"
    return "error"


def run_one(prefix, name, work):
    argv = prefix + ["stress-ng", f"--{name}", "0", "--timeout", "2s", "--verify",
                     "--metrics-brief", "--temp-path", work]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=work, start_new_session=True, text=True,
                            errors="replace")
    try:
        out, _ = proc.communicate(timeout=DEADLINE)
        code = proc.returncode
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code, hung = None, True
    seconds = time.monotonic() - start
    lines = [l for l in out.splitlines() if l.strip() and "metrc:" not in l]
    # The most telling line: a failure, an error, or a sentry denial; else the last one.
    why = next((l for l in reversed(lines) if " fail:" in l or "error" in l.lower()), None)
    why = why or next((l for l in reversed(lines) if "sentry:" in l), None)
    why = why or (lines[-1] if lines else "")
    if hung:
        result = "hang"
    elif prefix and (code == 125 or (code is not None and code < 0)):
        result = "sentry"
    else:
        result = outcome(code)
    return {"result": result, "code": code, "seconds": round(seconds, 1), "why": why.strip()[:200]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentry", default=str(REPO / "target/x86_64-unknown-linux-gnu/release/sentry"))
    ap.add_argument("--classes", default=",".join(CLASSES))
    ap.add_argument("--platforms", default="ptrace,seccomp")
    ap.add_argument("--out", default=str(REPO / "tests/STRESS.md"))
    ap.add_argument("--json", default=str(REPO / "tests/stress/results.json"))
    ap.add_argument("--merge", action="store_true",
                    help="keep the JSON's rows of other classes and skip their stressors")
    args = ap.parse_args()
    if not shutil.which("stress-ng"):
        raise SystemExit("stress-ng is not installed (apt-get install stress-ng)")
    configs = [("native", [])] + [
        (f"sentry-{p}", [args.sentry, "run", f"--platform={p}", "/"])
        for p in args.platforms.split(",")
    ]
    version = subprocess.run(["stress-ng", "--version"], capture_output=True, text=True).stdout.strip()
    classes = args.classes.split(",")
    results = []
    if args.merge and Path(args.json).exists():
        old = json.loads(Path(args.json).read_text())
        results = [r for r in old["results"] if r["class"] not in classes]
    seen = {r["stressor"] for r in results}
    for cls in classes:
        for name in stressors_of(cls):
            if name in seen:
                continue
            seen.add(name)
            row = {"class": cls, "stressor": name}
            for config, prefix in configs:
                with tempfile.TemporaryDirectory(prefix="stress-") as work:
                    os.chmod(work, 0o777)
                    row[config] = run_one(prefix, name, work)
            results.append(row)
            print(cls, name, " ".join(f"{c}={row[c]['result']}" for c, _ in configs), flush=True)
        results.sort(key=lambda r: CLASSES.index(r["class"]) if r["class"] in CLASSES else len(CLASSES))
        Path(args.json).write_text(json.dumps({"stress_ng": version, "results": results}, indent=1))
        write_report(args.out, version, [c for c, _ in configs], results)
        print(cls, "done", flush=True)


def write_report(path, version, configs, results):
    sentry_configs = [c for c in configs if c != "native"]
    lines = ["# stress-ng under the sentry", "",
             f"Made by `tests/stress/run.py` with {version}, as root, on this project's 2-CPU "
             "machine: every stressor of each class once (`--<stressor> 0 --timeout 2s --verify "
             "--metrics-brief`), natively and under `sentry run --platform=P /`. Outcomes follow "
             "stress-ng's exit status (pass 0, fail 2, skip 3/4, error otherwise); `hang`: killed "
             f"after {DEADLINE} s; `sentry`: the sentry itself failed.", ""]
    lines += ["## Counts", "", "| class | stressors | native pass | "
              + " | ".join(f"{c} pass" for c in sentry_configs)
              + " | pass natively, not under the sentry |",
              "|---|---:|---:|" + "---:|" * len(sentry_configs) + "---:|"]
    classes = []
    for r in results:
        if r["class"] not in classes:
            classes.append(r["class"])
    totals = [0, 0] + [0] * len(sentry_configs) + [0]
    for cls in classes + ["all"]:
        rows = [r for r in results if cls == "all" or r["class"] == cls]
        native = sum(r["native"]["result"] == "pass" for r in rows)
        per = [sum(r[c]["result"] == "pass" for r in rows) for c in sentry_configs]
        regress = sum(r["native"]["result"] == "pass"
                      and any(r[c]["result"] != "pass" for c in sentry_configs) for r in rows)
        name = "**all**" if cls == "all" else cls
        lines.append(f"| {name} | {len(rows)} | {native} | " + " | ".join(map(str, per))
                     + f" | {regress} |")
    lines += ["", "## Stressors that pass natively and not under the sentry", "",
              "| class | stressor | " + " | ".join(sentry_configs) + " | what it printed |",
              "|---|---|" + "---|" * len(sentry_configs) + "---|"]
    for r in results:
        if r["native"]["result"] == "pass" and any(r[c]["result"] != "pass" for c in sentry_configs):
            bad = next(r[c] for c in sentry_configs if r[c]["result"] != "pass")
            why = bad["why"].replace("|", "\\|")
            lines.append(f"| {r['class']} | {r['stressor']} | "
                         + " | ".join(r[c]["result"] for c in sentry_configs) + f" | `{why}` |")
    lines += ["", "## Every stressor", "", "| class | stressor | native | "
              + " | ".join(sentry_configs) + " |", "|---|---|---|" + "---|" * len(sentry_configs)]
    for r in results:
        lines.append(f"| {r['class']} | {r['stressor']} | {r['native']['result']} | "
                     + " | ".join(r[c]["result"] for c in sentry_configs) + " |")
    Path(path).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

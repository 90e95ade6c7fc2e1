"""`ragsim replay` pages rendered by headless Chromium: the state they show at given times.

    RAGSIM_BINARY=build/ragsim python3 analysis/tests/replay_browser.py [WORKDIR] [--shots DIR]

Makes two traces with the real binary, writes their replay pages with `ragsim replay`, opens
them in `chromium --headless --dump-dom` at times given in the URL fragment (#t=SECONDS) and
checks the rendered DOM (each node's data-state, set by the page's script):

- the 2023 Q4 incident (`ragsim compare scenarios/incident-2023q4.yaml`, ungoverned next to
  governed, 1 replication shortened to 45 min: the cascade starts at 36 min): at 40 min every
  risk-control replica is `saturated` in `ungoverned` and none is in `governed`; at 20 min,
  before the trigger, none is in either;
- the vector-DB avalanche (`scenarios/trap-vectordb-avalanche.yaml`, naive, 8 min): for an
  OOM kill followed by a CrashLoopBackOff delay (times from the trace's events table), the
  killed replica is shown `killed` 0.5 s after the kill and `starting` 0.5 s after its restart,
  the other states follow the events; before the first kill no replica is killed.

It also checks that the page is self-contained (no http(s) reference in a src, href, url() or
import) and prints the page's size and the load time Chromium measured (navigation start to
the first frame drawn, and to the load event). --shots DIR writes 1600x900 screenshots of the
incident at 40 min and the avalanche 0.5 s after the kill into DIR (docs/img/ holds them).
Exit status 0: passed; 1: failed; 77: skipped because no Chromium is installed.
"""

import html.parser
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import ragsim_analysis as ra  # noqa: E402
from ragsim_analysis.trace import Trace  # noqa: E402

from screenshot import find_chromium  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        FAILURES.append(what)


class _Dom(html.parser.HTMLParser):
    """Nodes and edges of each panel: {variant: {node id: attrs}}, body attributes."""

    def __init__(self):
        super().__init__()
        self.panels, self.edges, self.body, self._v = {}, {}, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "section" and "data-variant" in a:
            self._v = a["data-variant"]
            self.panels[self._v] = {}
            self.edges[self._v] = {}
        elif tag == "g" and "node" in (a.get("class") or "").split() and self._v is not None:
            self.panels[self._v][a["data-node"]] = a
        elif tag == "g" and a.get("class") == "edge" and self._v is not None:
            self.edges[self._v][a["data-edge"]] = a


def render(chromium, page: Path, t: float, work: Path) -> _Dom:
    url = page.resolve().as_uri() + f"#t={t:.3f}"
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={work / 'profile'}",
                        "--dump-dom", url], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit(f"FAILED: chromium exited with {p.returncode}:\n{p.stderr[-2000:]}")
    d = _Dom()
    d.feed(p.stdout)
    if d.body.get("data-replay") != "ready":
        raise SystemExit(f"FAILED: the page's script did not finish at #t={t:g} (body data-replay="
                         f"{d.body.get('data-replay')!r})")
    if abs(float(d.body.get("data-t", "nan")) - t) > 1e-3:
        raise SystemExit(f"FAILED: opened at #t={t:g}, the page shows t={d.body.get('data-t')}")
    return d


def screenshot(chromium, page: Path, t: float, out: Path, work: Path) -> None:
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={work / 'profile'}", "--window-size=1600,900", f"--screenshot={out}",
                    page.resolve().as_uri() + f"#t={t:.3f}"], capture_output=True, text=True, timeout=300)
    check(out.is_file() and out.stat().st_size > 20000, f"screenshot {out} written ({out.stat().st_size if out.is_file() else 0} bytes)")


def self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r"""(?:\bsrc\s*=|\bhref\s*=|url\(|@import|\bimport\s*\(|fetch\()\s*["']?(https?:|//)""", text, re.I)
    check(not refs, f"{page.name}: no external reference (src, href, url(), import, fetch) ({len(refs)} found)")
    check("<script src" not in text and "<link" not in text, f"{page.name}: no external script or stylesheet")


def main() -> int:
    args = [a for a in sys.argv[1:]]
    shots = None
    if "--shots" in args:
        i = args.index("--shots")
        shots = Path(args[i + 1])
        del args[i:i + 2]
    chromium = find_chromium()
    if chromium is None:
        print("SKIPPED: no chromium on PATH (apt-get install chromium); the replay pages were not rendered")
        return 77
    work = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="ragsim-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    src = Path(os.environ.get("RAGSIM_SOURCE_DIR") or HERE.parents[1])
    binary = str(ra.find_binary())

    # -- the incident: ungoverned next to governed ---------------------------------------------------
    inc = work / "incident.h5"
    ra.ragsim("compare", src / "scenarios" / "incident-2023q4.yaml", out=inc, reps=1, variants=["governed"],
              sets={"duration": "45m", "trace.request_sample": "0.01"}, quiet=True, extra=["-j", "2"])
    p = subprocess.run([binary, "replay", str(inc), "-o", str(work / "incident-replay"), "--variants",
                        "ungoverned,governed"], capture_output=True, text=True, timeout=600)
    print(p.stdout.strip())
    check(p.returncode == 0, f"ragsim replay of the incident exits 0 ({p.returncode}: {p.stderr.strip()[-500:]})")
    page = work / "incident-replay" / "replay.html"
    self_contained(page)
    size = page.stat().st_size
    for t, ung_sat in ((2400, True), (1200, False)):
        d = render(chromium, page, t, work)
        check(set(d.panels) == {"ungoverned", "governed"}, f"t={t}: two panels, ungoverned and governed ({sorted(d.panels)})")
        for v in ("ungoverned", "governed"):
            rc = {k: a for k, a in d.panels.get(v, {}).items() if a.get("data-component") == "risk_control"}
            states = [rc[k]["data-state"] for k in sorted(rc)]
            check(len(rc) == 4, f"t={t} {v}: 4 risk_control replicas drawn ({len(rc)})")
            want = ung_sat and v == "ungoverned"
            if want:
                check(all(s == "saturated" for s in states), f"t={t} {v}: every risk_control replica saturated ({states}; "
                      f"queues {[rc[k]['data-queue'] for k in sorted(rc)]}, utilisation {[rc[k]['data-util'] for k in sorted(rc)]})")
            else:
                check(not any(s == "saturated" for s in states), f"t={t} {v}: no risk_control replica saturated ({states}; "
                      f"utilisation {[rc[k]['data-util'] for k in sorted(rc)]})")
        if t == 2400:
            print(f"incident page: {size} bytes ({size / 1024:.0f} KiB); Chromium: first frame drawn "
                  f"{d.body.get('data-first-frame-ms')} ms, load event {d.body.get('data-load-ms')} ms after navigation start")
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        screenshot(chromium, page, 2400, shots / "replay-incident-40min.png", work)

    # -- the avalanche: a replica killed right after its OOM kill ------------------------------------
    av = work / "avalanche.h5"
    ra.ragsim("run", src / "scenarios" / "trap-vectordb-avalanche.yaml", out=av, reps=1, variants=["naive"],
              sets={"duration": "8m"}, quiet=True)
    p = subprocess.run([binary, "replay", str(av), "-o", str(work / "avalanche-replay")], capture_output=True,
                       text=True, timeout=600)
    print(p.stdout.strip())
    check(p.returncode == 0, f"ragsim replay of the avalanche exits 0 ({p.returncode}: {p.stderr.strip()[-500:]})")
    page = work / "avalanche-replay" / "replay.html"
    with Trace(str(av)) as tr:
        ev = tr.events()
    ev = ev[ev["source"].str.startswith("vectordb/")].sort_values("time", kind="stable")
    kills = ev[ev["kind"] == "oom_kill"]
    check(len(kills) >= 2, f"the avalanche's events table has OOM kills ({len(kills)})")
    if len(kills) < 2:
        return 1
    first = kills.iloc[0]
    d = render(chromium, page, float(first["time"]) - 0.5, work)
    states = {k: a["data-state"] for k, a in d.panels["naive"].items() if k.startswith("vectordb/")}
    check("killed" not in states.values(), f"0.5 s before the first OOM kill ({first['time']:.3f} s) no vector DB "
          f"replica is killed ({states})")
    # a kill followed by a back-off: its replica_restarted comes later
    chosen = None
    for _, k in kills.iterrows():
        later = ev[(ev["source"] == k["source"]) & (ev["time"] >= k["time"]) & (ev["kind"] == "replica_restarted")]
        if len(later) and float(later.iloc[0]["time"]) > float(k["time"]) + 1.0:
            chosen = (k, float(later.iloc[0]["time"]))
            break
    check(chosen is not None, "an OOM kill followed by a CrashLoopBackOff delay")
    if chosen is None:
        return 1
    k, restart = chosen
    src_node, tk = str(k["source"]), float(k["time"])
    ready = ev[(ev["source"] == src_node) & (ev["time"] >= restart) & (ev["kind"] == "replica_ready")]
    print(f"OOM kill of {src_node} at {tk:.3f} s, restarted at {restart:.3f} s"
          + (f", ready at {float(ready.iloc[0]['time']):.3f} s" if len(ready) else ""))
    probes = [(tk + 0.5, "killed"), (restart - 0.5, "killed"), (restart + 0.5, "starting")]
    if len(ready):
        tr_ = float(ready.iloc[0]["time"])
        nxt = kills[(kills["source"] == src_node) & (kills["time"] > tr_)]
        if not len(nxt) or float(nxt.iloc[0]["time"]) > tr_ + 0.5:
            probes.append((tr_ + 0.5, "cold"))
    for t, want in probes:
        d = render(chromium, page, t, work)
        a = d.panels["naive"].get(src_node, {})
        check(a.get("data-state") == want, f"t={t:.3f} s: {src_node} shown {want} ({a.get('data-state')}; "
              f"event badge {a.get('data-event')!r})")
    if shots:
        screenshot(chromium, page, tk + 0.5, shots / "replay-avalanche-oom-kill.png", work)

    if FAILURES:
        print(f"FAILED: {len(FAILURES)} check(s)")
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())

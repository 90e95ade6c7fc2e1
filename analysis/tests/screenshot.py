"""The HTML report rendered by headless Chromium is not blank, and its interactive page runs.

    RAGSIM_BINARY=build/ragsim python3 analysis/tests/screenshot.py [WORKDIR]

Makes a small trace with the real binary (`ragsim compare` of the vector-DB
avalanche, 2 replications of 8 minutes), writes its report, opens
report.html in `chromium --headless` and checks the screenshot: Chromium
exits 0 and writes a PNG of the window's size, and a good part of it is
drawn (not white). Then the interactive page (interactive.html, plotly.js beside it): Chromium
runs its scripts offline (--dump-dom after a virtual-time budget) and every plot the page
lists has been drawn by plotly.js (its div is a js-plotly-plot holding SVG), and the page loads
nothing from a network. Last the request spans: `ragsim export --format chrome-trace` of one run,
loaded by a page in Chromium whose script parses the JSON as the trace viewer does and checks
every track (complete events nest, every track is named, each request's spans lie inside its
gateway span); the counts it reports must be the trace's spans table's. Exit status 0: passed; 1: failed; 77: skipped because no Chromium is
installed (ctest shows the test as skipped).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
from matplotlib import image as mpimg  # noqa: E402

import ragsim_analysis as ra  # noqa: E402

WIDTH, HEIGHT = 1200, 2400


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def non_white_fraction(png: Path) -> float:
    img = mpimg.imread(str(png))
    rgb = img[..., :3]
    if rgb.dtype != np.float32 and rgb.dtype != np.float64:
        rgb = rgb / 255.0
    return float(np.mean(np.any(rgb < 0.94, axis=-1)))


def main() -> int:
    chromium = find_chromium()
    if chromium is None:
        print("SKIPPED: no chromium on PATH (apt-get install chromium); the report was not rendered")
        return 77
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ragsim-shot-"))
    work.mkdir(parents=True, exist_ok=True)
    src = Path(os.environ.get("RAGSIM_SOURCE_DIR") or HERE.parents[1])
    trace = work / "avalanche.h5"
    ra.ragsim("compare", src / "scenarios" / "trap-vectordb-avalanche.yaml", out=trace, reps=2,
              variants=["rate_limit"], sets={"duration": "8m"}, quiet=True)
    index, pngs = ra.write_report(str(trace), str(work / "report"))
    shot = work / "screenshot.png"
    if shot.exists():
        shot.unlink()
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={work / 'chromium-profile'}", f"--window-size={WIDTH},{HEIGHT}",
           f"--screenshot={shot}", Path(index).resolve().as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if p.returncode != 0 or not shot.is_file():
        print(f"FAILED: chromium exited with {p.returncode} without a screenshot:\n{p.stderr[-2000:]}")
        return 1
    img = mpimg.imread(str(shot))
    frac = non_white_fraction(shot)
    print(f"screenshot {shot}: {img.shape[1]}x{img.shape[0]} px, {frac:.1%} of the pixels not white "
          f"({len(pngs)} figures in {index})")
    if img.shape[0] != HEIGHT or img.shape[1] != WIDTH:
        print(f"FAILED: expected a {WIDTH}x{HEIGHT} screenshot")
        return 1
    # a blank page is ~0%; the report's text, table and first figures cover well over 3%
    if frac < 0.03:
        print("FAILED: the rendered page is (nearly) blank")
        return 1
    # the top of the page holds the title and the parameters, the lower part the figures: both drawn
    top = np.mean(np.any(img[: HEIGHT // 4, :, :3] < 0.94, axis=-1))
    bottom = np.mean(np.any(img[HEIGHT // 2:, :, :3] < 0.94, axis=-1))
    if top < 0.01 or bottom < 0.01:
        print(f"FAILED: part of the page is blank (top quarter {top:.1%}, lower half {bottom:.1%} drawn)")
        return 1
    if check_interactive(chromium, Path(index).parent, work) != 0:
        return 1
    if check_spans(chromium, trace, work) != 0:
        return 1
    print("PASSED")
    return 0


def check_interactive(chromium: str, report_dir: Path, work: Path) -> int:
    from ragsim_analysis import interactive
    page = report_dir / interactive.PAGE
    if not interactive.available():
        print("interactive page: not checked, plotly is not installed (apt-get install python3-plotly)")
        return 0 if not page.exists() else 1
    if not page.is_file() or not (report_dir / interactive.PLOTLY_JS).is_file():
        print(f"FAILED: {page} or {interactive.PLOTLY_JS} beside it was not written")
        return 1
    text = page.read_text(encoding="utf-8")
    if re.search(r"(src|href)=[\"'](https?:)?//", text):
        print("FAILED: the interactive page loads something from a network")
        return 1
    ids = json.loads(re.search(r"window\.ragsimPlots = (\[.*?\]);", text).group(1))
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={work / 'chromium-profile'}",
           "--virtual-time-budget=30000", "--dump-dom", page.resolve().as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    dom = p.stdout
    if p.returncode != 0 or "</html>" not in dom:
        print(f"FAILED: chromium could not load {page} ({p.returncode}):\n{p.stderr[-2000:]}")
        return 1
    drawn = [i for i in ids if re.search(rf'<div id="{re.escape(i)}" class="[^"]*js-plotly-plot', dom)]
    svgs = len(re.findall(r'<svg class="main-svg"', dom))
    print(f"interactive page {page}: {len(drawn)} of {len(ids)} plots drawn by plotly.js in Chromium, "
          f"{svgs} SVG layers")
    if len(ids) < 3 or len(drawn) != len(ids) or svgs < len(ids):
        print(f"FAILED: plots not drawn: {sorted(set(ids) - set(drawn))}")
        return 1
    return 0



SPANS_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>spans</title></head><body>
<pre id="result">not run</pre>
<script>const TRACE = %s;</script>
<script>
// The trace-event format's complete events ("ph": "X"), read as chrome://tracing and Perfetto do:
// per (pid, tid) track the slices must nest (a slice that starts inside another ends inside it).
const EPS = 0.002;   // microseconds: the JSON's rounding to 3 decimals
const ev = TRACE.traceEvents;
const named = new Set(), procs = new Set(), tracks = new Map();
let errors = [];
for (const e of ev) {
  if (e.ph === "M" && e.name === "thread_name") named.add(e.pid + "/" + e.tid);
  if (e.ph === "M" && e.name === "process_name") procs.add(e.pid);
  if (e.ph !== "X") continue;
  if (typeof e.ts !== "number" || typeof e.dur !== "number" || e.dur < 0) errors.push("bad times " + JSON.stringify(e));
  const k = e.pid + "/" + e.tid;
  if (!tracks.has(k)) tracks.set(k, []);
  tracks.get(k).push(e);
}
const gwReq = new Set(ev.filter(e => e.ph === "X" && e.name === "gateway").map(e => e.pid + "/" + e.args.request));
let maxDepth = 0, roots = 0, rootsNotGateway = 0, unnamed = 0;
for (const [k, list] of tracks) {
  if (!named.has(k)) unnamed++;
  list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const stack = [];
  for (const e of list) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts + EPS) stack.pop();
    if (stack.length) {
      const top = stack[stack.length - 1];
      if (e.ts + e.dur > top.ts + top.dur + EPS) errors.push("overlap on " + k + ": " + e.name + " in " + top.name);
    } else if (!k.endsWith("/" + (e.args.request * 8))) {
      // a root on a parallel lane: allowed (calls made in parallel), not a gateway
    } else if (gwReq.has(e.pid + "/" + e.args.request)) { roots++; if (e.name !== "gateway") rootsNotGateway++; }
    stack.push(e);
    maxDepth = Math.max(maxDepth, stack.length);
  }
}
// each request's spans, on any of its lanes, lie inside its gateway span
const gw = new Map();
for (const e of ev) if (e.ph === "X" && e.name === "gateway") gw.set(e.pid + "/" + e.args.request, e);
// (a request still in flight at the end of the run has no gateway span: counted apart)
let outside = 0;
for (const e of ev) {
  if (e.ph !== "X") continue;
  const g = gw.get(e.pid + "/" + e.args.request);
  if (g && (e.ts < g.ts - EPS || e.ts + e.dur > g.ts + g.dur + EPS)) outside++;
}
const requests = new Set(ev.filter(e => e.ph === "X").map(e => e.pid + "/" + e.args.request));
document.getElementById("result").textContent = JSON.stringify({
  spans: ev.filter(e => e.ph === "X").length, tracks: tracks.size, requests: requests.size,
  without_gateway: requests.size - gw.size,
  processes: procs.size, unnamed: unnamed, roots: roots, roots_not_gateway: rootsNotGateway,
  outside_gateway: outside, max_depth: maxDepth, errors: errors.slice(0, 5), n_errors: errors.length});
</script></body></html>
"""


def check_spans(chromium: str, trace: Path, work: Path) -> int:
    """The chrome-trace export of one run, parsed and checked by a script in Chromium."""
    from ragsim_analysis.trace import Trace
    variant, rep = "rate_limit", 1
    spans_json = work / "spans.json"
    from ragsim_analysis.run import find_binary
    subprocess.run([str(find_binary()), "export", str(trace), "--format", "chrome-trace", "--variant", variant,
                    "--replication", str(rep), "-o", str(spans_json), "--force"],
                   check=True, capture_output=True, text=True, timeout=600)
    page = work / "spans.html"
    page.write_text(SPANS_PAGE % spans_json.read_text(encoding="utf-8").strip(), encoding="utf-8")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={work / 'chromium-profile'}",
           "--virtual-time-budget=30000", "--dump-dom", page.resolve().as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    m = re.search(r'<pre id="result">(.*?)</pre>', p.stdout, re.S)
    if p.returncode != 0 or not m or not m.group(1).startswith("{"):
        print(f"FAILED: the spans page did not run in chromium ({p.returncode}):\n{p.stderr[-2000:]}")
        return 1
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    # what the trace's spans table says, computed here: the run's spans but zero-length LLM phases
    with Trace(trace) as tr:
        df = tr.spans([variant])
        req = tr.requests([variant])
    df = df[df["replication"] == rep]
    released = set(req.loc[req["replication"] == rep, "id"])
    zero_phase = df["name"].isin(["llm_queue", "prefill", "decode"]) & (df["end"] <= df["start"])
    # requests with spans that the requests table does not hold were in flight at the end: no gateway span
    in_flight = len(set(df["request"]) - released)
    want = {"spans": int((~zero_phase).sum()), "requests": int(df["request"].nunique()), "processes": 1,
            "without_gateway": in_flight}
    print(f"spans in Chromium: {got['spans']} spans on {got['tracks']} tracks of {got['requests']} requests, "
          f"nesting depth up to {got['max_depth']}, {got['n_errors']} nesting errors, "
          f"{got['outside_gateway']} spans outside their gateway span, {got['without_gateway']} requests without "
          f"one (trace: {want['spans']} spans of {want['requests']} requests, {in_flight} in flight at the end)")
    bad = [k for k in want if got[k] != want[k]]
    if bad or got["n_errors"] or got["unnamed"] or got["outside_gateway"] or got["roots_not_gateway"] \
            or got["roots"] != want["requests"] - in_flight or got["max_depth"] < 3:
        print(f"FAILED: {got} (expected {want})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTML report rendered by headless Chromium is not blank, and its interactive page runs.

    RAGSIM_BINARY=build/ragsim python3 analysis/tests/screenshot.py [WORKDIR]

Makes a small trace with the real binary (`ragsim compare` of the vector-DB
avalanche, 2 replications of 8 minutes), writes its report, opens
report.html in `chromium --headless` and checks the screenshot: Chromium
exits 0 and writes a PNG of the window's size, and a good part of it is
drawn (not white). Then the interactive page (interactive.html, plotly.js beside it): Chromium
runs its scripts offline (--dump-dom after a virtual-time budget) and every plot the page
lists has been drawn by plotly.js (its div is a js-plotly-plot holding SVG), and the page loads
nothing from a network. Exit status 0: passed; 1: failed; 77: skipped because no Chromium is
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


if __name__ == "__main__":
    sys.exit(main())

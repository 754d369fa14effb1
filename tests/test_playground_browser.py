"""The playground as a user meets it: nbs/playground.ipynb served by Voila, driven in headless Chromium by Playwright.

One tiny char-level model is trained with the real CLI, one Voila server and one browser page are shared by the tests
below (they run in file order on the same page, like a user's session). Measurements (click-to-first-token, tokens/s,
click-to-update of each view) and the screenshot path are printed, recorded as user properties, and repeated in a
terminal-summary section so they show without `-s`.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil  # a dev requirement, like voila: missing means a broken environment, so no skip for it
import pytest

from conftest import run_cli

pytestmark = pytest.mark.xdist_group("browser")  # one pytest-xdist worker runs them all, in order, on one page

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored
BOOT_S = 180  # Voila's first render imports torch and loads the model in a fresh kernel: seconds, more on a busy CI box
STEP_MS = 60_000  # any single UI step (a generation of a few hundred characters on a 2-layer model is well under this)

if not CHROMIUM.is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")

_summary: list[str] = []


class _Summary:
    "A late-registered plugin: repeats the measurements at the end of the run, whatever -s says."

    def pytest_terminal_summary(self, terminalreporter):
        if _summary:
            terminalreporter.section("playground (browser)")
            for line in _summary:
                terminalreporter.write_line(line)


def report(record_property, key, value, text):
    "Print a measurement, keep it for the terminal summary and the JUnit XML."
    print(text)
    _summary.append(text)
    record_property(key, value)


@pytest.fixture(scope="module", autouse=True)
def _summary_plugin(request):
    # registered late, but before pytest writes its terminal summary, which is all it needs
    if not request.config.pluginmanager.has_plugin("playground-browser-summary"):
        request.config.pluginmanager.register(_Summary(), "playground-browser-summary")


# ---- the model, the server and the browser ----

@pytest.fixture(scope="module")
def runs(tmp_path_factory, shakespeare_input):
    "A folder holding one tiny trained run, made by nanogpt-train exactly as a user would (a few seconds)."
    root = tmp_path_factory.mktemp("playground")
    runs = root / "runs"
    run_cli("nanogpt-train", "train_shakespeare_char_cpu", f"--out_dir={runs}/out-tiny", f"--data_dir={root}/data",
            "--n_layer=2", "--n_head=2", "--n_embd=32", "--max_iters=300", "--eval_interval=300", "--eval_iters=2",
            "--log_interval=10", "--always_save_checkpoint=True",
            cwd=root, env={"NANOGPT_SHAKESPEARE": str(shakespeare_input)}, check=0)
    assert (runs / "out-tiny" / "ckpt.pt").is_file()
    return runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, log, timeout=BOOT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)  # nothing to wait_for on a socket that does not exist yet
    pytest.fail(f"voila did not listen on {port} within {timeout} s:\n{log.read_text()[-4000:]}")


def stop_server(proc):
    "SIGTERM Voila's process group, then kill whatever it started (kernels get their own sessions, so list them first)."
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    _, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def server(tmp_path_factory, runs):
    "URL of the app notebook served by Voila, with NANOGPT_RUNS pointing at the tiny run; Jupyter state kept in tmp."
    tmp = tmp_path_factory.mktemp("voila")
    nb = tmp / "playground.ipynb"
    shutil.copy(ROOT / "nbs" / "playground.ipynb", nb)
    dirs = {k: tmp / k.lower() for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}
    for d in dirs.values():
        d.mkdir()
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "NANOGPT_RUNS": str(runs), "PYTHONUNBUFFERED": "1"}
    port = free_port()
    log = tmp / "voila.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "voila", str(nb), "--no-browser", f"--port={port}",
                                 "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
                                cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_server(proc)


def local_only(route):
    "Voila pages link CDN fonts and MathJax; offline, their DNS lookups stall the page load, so refuse them at once."
    host = re.match(r"^[a-z]+://([^/:]+)", route.request.url)
    if host is None or host.group(1) in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture(scope="module")
def page(server):
    "The app, open and with the tiny run loaded (its status line says so)."
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            # tall enough for the whole app: Voila scrolls inside its own container, so full_page alone would clip it
            context = browser.new_context(viewport={"width": 1100, "height": 1600})
            context.route("**/*", local_only)
            page = context.new_page()
            page.set_default_timeout(STEP_MS)
            page.goto(server, timeout=BOOT_S * 1000, wait_until="commit")
            status = page.locator(".nanogpt-playground .pg-status")
            sync_api.expect(status.locator(".pg-status-ok")).to_contain_text("out-tiny", timeout=BOOT_S * 1000)
            sync_api.expect(status).to_contain_text("characters")  # the char-level tokenizer came with the run
            install_recorders(page)
            yield page
        finally:
            browser.close()


# ---- driving the widgets ----

def install_recorders(page):
    "MutationObservers log every change of the text, the status and the views, with timestamps: no polling, no misses."
    page.evaluate("""() => {
        const $ = (sel) => document.querySelector(sel);
        const out = $('.pg-output'), status = $('.pg-status');
        window.pgOut = []; window.pgStatus = []; window.pgViews = []; window.pgClick = null;
        new MutationObserver(() => window.pgOut.push({t: performance.now(), len: out.textContent.length}))
            .observe(out, {childList: true, subtree: true, characterData: true});
        new MutationObserver(() => window.pgStatus.push({t: performance.now(), text: status.textContent}))
            .observe(status, {childList: true, subtree: true, characterData: true});
        for (const [name, el] of [['chart', $('.pg-probs')], ['heatmap', $('.pg-heatmap')], ['lens', $('.pg-lens')]])
            new MutationObserver(() => window.pgViews.push({t: performance.now(), view: name}))
                .observe(el, {childList: true, subtree: true, characterData: true, attributes: true});
        // a click's (or Enter's) own timestamp, taken in the page, so Playwright's round trips do not count
        const stamp = () => { window.pgClick = performance.now(); };
        for (const el of [$('.pg-generate'), out, $('.pg-alternatives')]) el.addEventListener('click', stamp, {capture: true});
        for (const el of [$('.pg-layer'), $('.pg-head')]) el.addEventListener('change', stamp, {capture: true});
        $('.pg-temperature').addEventListener('keydown', stamp, {capture: true});
    }""")


def reset_recorders(page):
    page.evaluate("() => { window.pgOut = []; window.pgStatus = []; window.pgViews = []; window.pgClick = null; }")


def view_latency_ms(page, view):
    "Milliseconds from the last click (or Enter) to the first change of `view` after it; waits for that change."
    page.wait_for_function("v => window.pgClick !== null && window.pgViews.some(m => m.view === v && m.t >= window.pgClick)",
                           arg=view)
    return page.evaluate("v => window.pgViews.find(m => m.view === v && m.t >= window.pgClick).t - window.pgClick", view)


def set_slider(page, cls, value):
    "Type into the slider's editable readout and press Enter, as a user would; wait until the readout shows it."
    readout = page.locator(f".{cls} .widget-readout")
    readout.fill(str(value))
    readout.press("Enter")
    sync_api.expect(readout).to_have_text(str(value))


def set_prompt(page, text):
    page.locator(".pg-prompt textarea").fill(text)


def output_text(page) -> str:
    "The text shown, token by token (without the marker of the next token)."
    return "".join(page.locator(".pg-output .pg-tok:not(.pg-next-tok)").all_text_contents())


def wait_for_status(page, word):
    "Wait until the status line changes to `word: ...` after the last reset_recorders (an old 'done:' does not count)."
    try:
        page.wait_for_function("w => window.pgStatus.some(s => s.text.trim().startsWith(w + ':'))", arg=word)
    except sync_api.TimeoutError:  # say what the status said instead
        seen = [s["text"].strip() for s in page.evaluate("() => window.pgStatus")]
        pytest.fail(f"the status never said {word}: within {STEP_MS} ms; it said {seen[-5:]}, and now "
                    f"{page.locator('.pg-status').text_content().strip()!r}")
    return page.locator(".pg-status").text_content().strip()


def generate_and_wait(page):
    "Click Generate and wait for the status to say done; returns the status text."
    reset_recorders(page)
    page.locator(".pg-generate").click()
    return wait_for_status(page, "done")


def parse_status(text):
    "'done: 200 tokens in 0.74 s (271 tokens/s), first after 10 ms' -> (200, 0.74, 271.0, 10.0)"
    m = re.search(r"(done|stopped): (\d+) tokens in ([\d.]+) s \((\d+) tokens/s\), first after (\d+) ms", text)
    assert m, f"unexpected status {text!r}"
    return m.group(1), int(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5))


# ---- the tests ----

PROMPT = "ROMEO:\nWhat light"


def test_generate_streams_text_and_charts_probabilities(page, record_property):
    set_prompt(page, PROMPT)
    set_slider(page, "pg-temperature", "0.70")
    set_slider(page, "pg-top-k", 50)
    set_slider(page, "pg-max-new-tokens", 200)

    status = generate_and_wait(page)
    how, count, seconds, rate, first_ms = parse_status(status)
    assert (how, count) == ("done", 200)  # the slider's value reached the kernel

    text = output_text(page)
    assert text.startswith(PROMPT) and len(text) == len(PROMPT) + 200  # a char model: one character per token
    # streamed, not dumped: the observer saw the text grow through several lengths before the status said done
    click, out, st = page.evaluate("() => [window.pgClick, window.pgOut, window.pgStatus]")
    done_t = next(s["t"] for s in st if s["text"].startswith("done"))
    lengths = [o["len"] for o in out if click <= o["t"] <= done_t]
    distinct = sorted(set(lengths))
    assert len(distinct) >= 2, f"the text arrived in one piece: {lengths}"
    assert lengths == sorted(lengths) and lengths[-1] == len(text) + len("▸"), lengths  # and the next token's marker

    # the chart: twelve rows of the next token's raw probabilities, largest first, each a probability
    rows = page.locator(".pg-probs tr.pg-prob-row")
    sync_api.expect(rows).to_have_count(12)
    probs = [float(p) for p in rows.locator("td:nth-child(4)").all_text_contents()]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001, probs
    # the text as tokens: the prompt plain, each generated token coloured, with its id, probability and rank on hover
    generated = page.locator(".pg-output .pg-gen-tok")
    sync_api.expect(generated).to_have_count(200)
    assert re.fullmatch(r"token 30: id \d+, drawn with p=[\d.]+ \(rank \d+\)", generated.nth(30 - len(PROMPT)).get_attribute("title"))
    assert "background: rgb(" in generated.nth(0).get_attribute("style")  # hsl(...), as the browser writes it back

    first_mutation_ms = out[0]["t"] - click
    report(record_property, "click_to_first_token_ms", round(first_mutation_ms),
           f"playground: Generate click -> first output mutation {first_mutation_ms:.0f} ms "
           f"(kernel: first token after {first_ms:.0f} ms)")
    report(record_property, "tokens_per_s", rate,
           f"playground: streamed {count} tokens in {seconds:.2f} s = {rate:.0f} tokens/s; "
           f"{len(distinct)} distinct output lengths seen")


def test_click_a_token_to_see_it_chosen_then_branch(page, record_property):
    set_slider(page, "pg-max-new-tokens", 60)
    set_slider(page, "pg-temperature", "1.00")
    generate_and_wait(page)
    token = page.locator(".pg-output .pg-gen-tok").nth(10)
    i = int(token.get_attribute("data-i"))
    reset_recorders(page)
    token.click()
    page.wait_for_function("i => window.pgStatus.some(s => s.text.trim().startsWith(`token ${i},`))", arg=i)
    latency = view_latency_ms(page, "heatmap")
    sync_api.expect(page.locator(".pg-output .pg-selected")).to_have_attribute("data-i", str(i))
    assert page.locator(".pg-probs tr.pg-actual").count() == 1  # the token that is there, marked in the chart
    report(record_property, "click_token_to_views_ms", round(latency),
           f"playground: click on a token -> its attention map redrawn {latency:.0f} ms")

    before = output_text(page)[:i]
    alternative = page.locator(".pg-alternatives button:not(.mod-info)").first  # a token other than the one there
    chosen = alternative.text_content().split()[0].replace("␣", " ").replace("⏎", "\n")
    reset_recorders(page)
    alternative.click()
    wait_for_status(page, "done")
    text = output_text(page)
    assert text[:i] == before and text[i] == chosen and len(text) == i + 1 + 60
    sync_api.expect(page.locator(".pg-output .pg-chosen-tok")).to_have_attribute("data-i", str(i))


def test_layer_and_head_pickers_redraw_the_attention_map(page, record_property):
    image = page.locator("img.pg-heatmap")
    for picker, label in (("pg-layer", "layer 2"), ("pg-head", "head 1")):
        src = image.get_attribute("src")
        reset_recorders(page)
        page.locator(f".{picker} select").select_option(label=label)
        latency = view_latency_ms(page, "heatmap")
        page.wait_for_function("s => document.querySelector('img.pg-heatmap').src !== s", arg=src)
        report(record_property, f"{picker}_to_heatmap_ms", round(latency),
               f"playground: {label} picked -> attention map redrawn {latency:.0f} ms")
    assert page.locator(".pg-layer select option:checked").text_content().replace("\xa0", " ") == "layer 2"
    assert not any(s["text"].startswith("generating") for s in page.evaluate("() => window.pgStatus"))


def test_temperature_reshapes_the_chart_without_generating(page, record_property):
    chart = page.locator(".pg-probs")
    before, text = chart.inner_html(), output_text(page)
    reset_recorders(page)
    set_slider(page, "pg-temperature", "1.80")
    latency = view_latency_ms(page, "chart")
    page.wait_for_function("h => document.querySelector('.pg-probs').innerHTML !== h", arg=before)
    assert output_text(page) == text and page.evaluate("() => window.pgOut.length") == 0  # nothing generated
    assert not any(s["text"].startswith("generating") for s in page.evaluate("() => window.pgStatus"))
    report(record_property, "temperature_to_chart_ms", round(latency),
           f"playground: temperature set -> chart redrawn {latency:.0f} ms (no generation)")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    report(record_property, "screenshot", str(shot), f"playground screenshot: {shot}")


def test_stop_ends_a_long_generation_early(page):
    set_prompt(page, PROMPT)
    set_slider(page, "pg-max-new-tokens", 2000)
    reset_recorders(page)
    page.locator(".pg-generate").click()
    # Stop once text is streaming in (the button enables as the generation starts; click() waits for that)
    page.wait_for_function(f"() => window.pgOut.some(o => o.len > {len(PROMPT)})")
    page.locator(".pg-stop").click()
    how, count, *_ = parse_status(wait_for_status(page, "stopped"))
    assert how == "stopped" and 0 < count < 2000
    text = output_text(page)
    assert text.startswith(PROMPT) and len(text) == len(PROMPT) + count < len(PROMPT) + 2000
    # ready for the next one: Generate enabled again, Stop disabled
    sync_api.expect(page.locator(".pg-generate")).to_be_enabled()
    sync_api.expect(page.locator(".pg-stop")).to_be_disabled()


def test_bad_prompt_is_reported_in_the_status_line(page):
    set_slider(page, "pg-max-new-tokens", 20)
    set_prompt(page, "Ĥello")  # not among tiny Shakespeare's 65 characters
    page.locator(".pg-generate").click()
    error = page.locator(".pg-status .pg-status-error")
    sync_api.expect(error).to_contain_text("'Ĥ'")
    sync_api.expect(error).to_contain_text("not in this model's vocabulary")
    assert page.get_by_text("Traceback").count() == 0  # shown as a message, not as a Python error dump
    # and the app recovers: a good prompt generates again
    set_prompt(page, PROMPT)
    how, count, *_ = parse_status(generate_and_wait(page))
    assert (how, count) == ("done", 20)

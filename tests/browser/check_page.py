#!/usr/bin/python3
"""check_page.py - load an HTML page in headless Chromium and check it.

    /usr/bin/python3 tests/browser/check_page.py PAGE.html [options]

Checks, each reported as a "PASS <name>/<check>" or "FAIL <name>/<check>: why" line:
  load      the page loads (load event) within the time limit;
  errors    no console error, uncaught exception, failed or network request,
            or JavaScript dialog (alert/confirm) during load, checks and printing;
  ink       a screenshot of the whole page (captured scaled down) is not blank:
            at least --min-ink of its pixels are not near-white;
  plots     every <svg class="plot"> on the page has visible ink of its own;
  eq        each --eq EXPR EXPECTED: the JavaScript expression's value (as JSON)
            equals EXPECTED (parsed as JSON, else compared as a string);
  print     with --pdf: the page prints to a PDF (print stylesheet applied).
Exit status 0 when all pass, 1 when one fails, 77 (and a "SKIP <name>: reason"
line) when Chromium is not installed or cannot start here.

Why the DevTools protocol (rather than --dump-dom/--screenshot): one browser
run gives console messages and exceptions as structured events (log-scraping
of --enable-logging output is unreliable across versions), evaluates DOM
queries after load, and screenshots whole pages or single plots.  The browser
is driven over its websocket with the minimal RFC 6455 client below (stdlib
only: no python3-websocket needed).

Chromium: $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH.
If none is found and HPTUNE_INSTALL_CHROMIUM=1 is set while running as root,
it is installed with apt-get (for CI images); otherwise the check skips.
The browser runs in its own process group and a temporary profile, both
removed on every exit path; every wait is bounded by --timeout.
"""
import argparse
import atexit
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP_STATUS = 77


class Skip(Exception):
    pass


class CheckError(Exception):
    pass


# ------------------------------------------------------------------ websocket


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), any frames in."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host, port, path, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16))
        request = (
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key.decode())
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CheckError("websocket handshake: connection closed")
            response += chunk
        head, rest = response.split(b"\r\n\r\n", 1)
        self.buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise CheckError("websocket handshake refused: %s" % lines[0])
        accept = base64.b64encode(hashlib.sha1(key + self.GUID).digest()).decode()
        headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        if headers.get("sec-websocket-accept") != accept:
            raise CheckError("websocket handshake: bad Sec-WebSocket-Accept")

    def settimeout(self, seconds):
        self.sock.settimeout(max(0.05, seconds))

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise CheckError("websocket closed by the browser")
            self.buffer += chunk
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def _send_frame(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def recv_text(self):
        parts = []
        while True:
            b0, b1 = self._read(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise CheckError("websocket closed by the browser")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8", "replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------ devtools client


class DevTools:
    def __init__(self, ws, deadline):
        self.ws, self.deadline, self.next_id, self.events = ws, deadline, 0, []

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CheckError("time limit reached")
        return left

    def _receive(self):
        self.ws.settimeout(self.remaining())
        try:
            return json.loads(self.ws.recv_text())
        except socket.timeout:
            raise CheckError("time limit reached waiting for the browser")

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send_text(json.dumps(message))
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CheckError("%s: %s" % (method, reply["error"].get("message")))
                return reply.get("result", {})
            if "method" in reply:
                self.on_event(reply)

    def on_event(self, event):
        self.events.append(event)
        if event["method"] == "Page.javascriptDialogOpening":  # never let a dialog block the page
            self.ws.send_text(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                          "params": {"accept": False}, "sessionId": event.get("sessionId")}))

    def wait_event(self, method):
        for e in self.events:
            if e["method"] == method:
                return e
        while True:
            reply = self._receive()
            if "method" in reply:
                self.on_event(reply)
                if reply["method"] == method:
                    return reply


# ---------------------------------------------------------------------- png


def png_pixels(data):
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG: (width, height, channels, rows)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckError("screenshot is not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack("!IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise CheckError("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, color, interlace))
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if width is None:
        raise CheckError("PNG without IHDR")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        base = y * (stride + 1)
        kind, line = raw[base], bytearray(raw[base + 1:base + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise CheckError("bad PNG filter %d" % kind)
        rows.append(line)
        prev = line
    return width, height, channels, rows


def ink_fraction(data, white=230):
    """Fraction of pixels whose darkest channel is below `white` (not paper)."""
    width, height, channels, rows = png_pixels(data)
    inked = 0
    for line in rows:
        for i in range(0, len(line), channels):
            if min(line[i], line[i + 1], line[i + 2]) < white:
                inked += 1
    return inked / float(max(1, width * height))


# ------------------------------------------------------------------ browser


def find_chromium():
    for name in [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    if os.environ.get("HPTUNE_INSTALL_CHROMIUM") == "1" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("check_page: installing chromium with apt-get (HPTUNE_INSTALL_CHROMIUM=1)", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                           env=env, timeout=900, check=False, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass
        if shutil.which("chromium"):
            return shutil.which("chromium")
    raise Skip("chromium not found (apt-get install chromium, set CHROMIUM=/path, "
               "or HPTUNE_INSTALL_CHROMIUM=1 as root to install it on demand)")


class Browser:
    def __init__(self, binary, deadline):
        self.profile = tempfile.mkdtemp(prefix="hptune-chromium.")
        self.log = open(os.path.join(self.profile, "stderr.log"), "w+b")
        args = [binary, "--headless", "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
                "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        atexit.register(self.stop)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        startup_deadline = min(deadline, time.monotonic() + 20)
        while True:  # the browser writes "port\npath\n" once it listens
            if os.path.exists(port_file):
                lines = open(port_file).read().split("\n")
                if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip():
                    self.port, self.path = int(lines[0]), lines[1].strip()
                    return
            if self.proc.poll() is not None:
                raise Skip("chromium exited at start (status %s): %s" % (self.proc.returncode, self.stderr_tail()))
            if time.monotonic() > startup_deadline:
                raise Skip("chromium did not open its DevTools port within 20 s: %s" % self.stderr_tail())
            time.sleep(0.05)

    def stderr_tail(self):
        try:
            self.log.flush()
            self.log.seek(0)
            text = self.log.read().decode("utf-8", "replace").strip().splitlines()
            return " | ".join(text[-3:]) or "(no output)"
        except (OSError, ValueError):
            return "(no output)"

    def stop(self):
        """End the browser's process group (its own session: only processes it started)."""
        if self.proc:
            group = self.proc.pid
            for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL also takes helpers that outlive the leader
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.proc = None
        try:
            self.log.close()
        except OSError:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)


# ------------------------------------------------------------------- checks


def problems_in(events):
    """Console errors, exceptions, failed/remote requests and dialogs among the events."""
    found = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            found.append("uncaught exception: %s" % (d.get("exception", {}).get("description") or d.get("text")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in p.get("args", [])]
            found.append("console.%s: %s" % (p.get("type"), " ".join(str(a) for a in args)))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            found.append("browser log error (%s): %s %s" % (entry.get("source"), entry.get("text"), entry.get("url", "")))
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                found.append("network request from an offline page: %s" % url)
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            found.append("load failed: %s" % p.get("errorText"))
        elif m == "Page.javascriptDialogOpening":
            found.append("JavaScript dialog opened: %s %r" % (p.get("type"), p.get("message")))
    return found


def parse_expected(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("page")
    ap.add_argument("--name", default=None, help="prefix of the PASS/FAIL lines (default: page file name)")
    ap.add_argument("--eq", nargs=2, action="append", default=[], metavar=("EXPR", "EXPECTED"))
    ap.add_argument("--screenshot", help="PNG of the first screen (full resolution)")
    ap.add_argument("--full-page", help="PNG of the whole page, up to --max-height pixels")
    ap.add_argument("--max-height", type=int, default=12000)
    ap.add_argument("--shot", action="append", default=[], metavar="SELECTOR=PNG",
                    help="PNG of the first element matching SELECTOR")
    ap.add_argument("--pdf", help="print the page to this PDF (print media)")
    ap.add_argument("--print-shot", help="PNG of the first screen under the print stylesheet")
    ap.add_argument("--min-ink", type=float, default=0.02)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--timeout", type=float, default=45)
    args = ap.parse_args()
    name = args.name or os.path.basename(args.page)
    deadline = time.monotonic() + args.timeout
    failures = []

    def report(check, problem):
        if problem:
            print("FAIL %s/%s: %s" % (name, check, problem))
            failures.append(check)
        else:
            print("PASS %s/%s" % (name, check))

    if not os.path.isfile(args.page):
        print("FAIL %s/load: no such file %s" % (name, args.page))
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run atexit cleanup on kill
    try:
        browser = Browser(find_chromium(), deadline)
    except Skip as e:
        print("SKIP %s: %s" % (name, e))
        return SKIP_STATUS
    ws = None
    try:
        ws = WebSocket("127.0.0.1", browser.port, browser.path, timeout=max(1, deadline - time.monotonic()))
        dt = DevTools(ws, deadline)
        target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.call(domain + ".enable", session=session)
        dt.call("Emulation.setDeviceMetricsOverride",
                {"width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": False}, session)
        t0 = time.monotonic()
        nav = dt.call("Page.navigate", {"url": "file://" + os.path.abspath(args.page)}, session)
        if nav.get("errorText"):
            report("load", nav["errorText"])
            return 1
        dt.wait_event("Page.loadEventFired")
        dt.call("Runtime.evaluate", {"expression": "document.fonts.ready.then(() => 1)", "awaitPromise": True},
                session)
        report("load", None)
        print("INFO %s: loaded in %.2f s" % (name, time.monotonic() - t0))

        def evaluate(expr):
            res = dt.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
            if "exceptionDetails" in res:
                raise CheckError("exception in %r: %s" % (expr, res["exceptionDetails"].get("exception", {}).get(
                    "description", res["exceptionDetails"].get("text"))))
            return res.get("result", {}).get("value")

        def capture(clip=None, beyond=False):
            params = {"format": "png", "captureBeyondViewport": beyond}
            if clip:
                params["clip"] = clip
            return base64.b64decode(dt.call("Page.captureScreenshot", params, session)["data"])

        for expr, expected in args.eq:
            label = "eq " + (expr if len(expr) <= 70 else expr[:67] + "...")
            try:
                got = evaluate(expr)
                want = parse_expected(expected)
                report(label, None if got == want else "%s = %r, expected %r" % (expr, got, want))
            except CheckError as e:
                report(label, str(e))

        size = evaluate("JSON.stringify([document.documentElement.scrollWidth, document.documentElement.scrollHeight])")
        page_w, page_h = json.loads(size)
        # Captures stay inside the viewport (scrolling to the region first): capturing
        # beyond it makes Chromium lay out the whole page at once, which takes seconds
        # on a 10,000-row table.  Images are scaled down to ~40-250k pixels for the
        # pure-Python PNG decoder.
        def capture_region(x, y, w, h, max_pixels):
            evaluate("window.scrollTo(0, %d)" % max(0, int(y) - 10))
            s = min(1.0, (max_pixels / max(1.0, w * h)) ** 0.5)
            return capture({"x": x, "y": y, "width": w, "height": h, "scale": s})

        first_h = min(page_h, args.height)
        ink = ink_fraction(capture_region(0, 0, min(page_w, args.width), first_h, 250000.0))
        report("ink", None if ink >= args.min_ink else "first screen is blank: %.4f of pixels inked, want >= %g" % (
            ink, args.min_ink))
        print("INFO %s: page %dx%d px, first screen %.1f %% inked" % (name, page_w, page_h, 100 * ink))

        rects = json.loads(evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('svg.plot')).map(function(e){"
            "var r=e.getBoundingClientRect();return [r.left+scrollX,r.top+scrollY,r.width,r.height,"
            "e.getAttribute('aria-label')||e.getAttribute('data-slice')||'']}))"))
        blank = []
        for x, y, w, h, label in rects[:60]:
            if w < 2 or h < 2:
                blank.append("%s (size %.0fx%.0f)" % (label, w, h))
                continue
            frac = ink_fraction(capture_region(x, y, w, min(h, args.height - 20), 40000.0))
            if frac < 0.01:
                blank.append("%s (%.4f inked)" % (label, frac))
        report("plots", "blank plots: " + ", ".join(blank) if blank else None)
        print("INFO %s: %d plots checked" % (name, min(len(rects), 60)))

        evaluate("window.scrollTo(0, 0)")
        if args.screenshot:
            open(args.screenshot, "wb").write(capture())
        if args.full_page:
            open(args.full_page, "wb").write(capture(
                {"x": 0, "y": 0, "width": page_w, "height": min(page_h, args.max_height), "scale": 1}, True))
        for spec in args.shot:
            selector, _, path = spec.rpartition("=")
            r = evaluate("(function(){var e=document.querySelector(%s);if(!e)return null;"
                         "e.scrollIntoView();var r=e.getBoundingClientRect();"
                         "return JSON.stringify([r.left+scrollX,r.top+scrollY,r.width,r.height])})()" % json.dumps(selector))
            if not r:
                report("shot", "no element matches %s" % selector)
                continue
            x, y, w, h = json.loads(r)
            tall = h > args.height  # taller than the screen: needs the (slow) capture beyond the viewport
            open(path, "wb").write(capture({"x": x, "y": y, "width": w, "height": min(h, args.max_height),
                                            "scale": 1}, tall))
        if args.pdf or args.print_shot:
            dt.call("Emulation.setEmulatedMedia", {"media": "print"}, session)
            evaluate("window.scrollTo(0, 0)")
            if args.print_shot:
                open(args.print_shot, "wb").write(capture())
            if args.pdf:
                pdf = base64.b64decode(dt.call("Page.printToPDF", {"printBackground": True,
                                                                   "preferCSSPageSize": True}, session)["data"])
                open(args.pdf, "wb").write(pdf)
                pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
                report("print", None if pdf.startswith(b"%PDF") and pages >= 1 else "no PDF produced")
                print("INFO %s: PDF %d bytes, %d pages" % (name, len(pdf), pages))
        evaluate("1")  # collect events that arrived meanwhile
        problems = problems_in(dt.events)
        report("errors", "; ".join(problems[:8]) if problems else None)
    except CheckError as e:
        report("browser", str(e))
    finally:
        if ws:
            ws.close()
        browser.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A loopback HTTP server for gg's network tests. Prints its port on stdout, then serves:
  /file/NAME                 a fixture file
  /slow/MS/NAME              waits MS milliseconds first
  /status/CODE               an empty reply with that status
  /flaky/KEY/N/NAME          HTTP 500 the first N times per KEY, then the file
  /truncated/NAME            promises the full length, sends half, closes
  /big/BYTES                 BYTES of zeros as video/mp4
  /page/NAME                 an HTML page whose og:video and <video> point at /file/NAME
  /carousel/A/B              an HTML page with two <video> elements
  /redirect-file             a redirect to file:///etc/passwd
  /redirect/N/NAME           N redirects, then the file
  /html                      plain HTML with no media
  /faulty/N                  load-test endpoint: fault chosen from N (500, slow, truncated, big, text or media)
  /gzbomb/MB                 MB megabytes of zeros, gzip-compressed (a decompression bomb for demuxers)
  /ua-split/NAME             an og:video page for NAME to gg-fetch, an endless page to any other client
  /huge-description/MB/NAME  an og:video page for NAME whose og:description is MB megabytes
  /redirect-to/HOST/NAME     a redirect to http://HOST/file/NAME (HOST may be [::1]:PORT, 169.254.169.254, ...)
  /ua-redirect/HOST/NAME     an og:video page for NAME to gg-fetch; to any other client a redirect to http://HOST/page/NAME
  /tree/PATH                 a fixture file in a subfolder (yt/, hls/, dash/), with streaming content types
  /once/KEY/NAME             the file the first time per KEY, then HTTP 403 (an expired signed URL)
  /stats                     JSON request counts per path
Stops by itself after --lifetime seconds (default 600)."""
import gzip, http.server, json, os, sys, threading, time, socketserver, argparse

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--lifetime", type=float, default=600)
args = parser.parse_args()
counts = {}
flaky = {}
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass

    def send_bytes(self, data, ctype="application/octet-stream", status=200, length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def send_file(self, name):
        path = os.path.join(args.root, os.path.basename(name))
        if not os.path.exists(path):
            return self.send_bytes(b"not found", "text/plain", 404)
        ctype = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png", "wav": "audio/wav"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")
        with open(path, "rb") as f:
            self.send_bytes(f.read(), ctype)

    def do_HEAD(self): self.do_GET()

    def do_GET(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
        host = self.headers.get("Host", "127.0.0.1")
        if not parts:
            return self.send_bytes(b"gg test server", "text/plain")
        kind = parts[0]
        if kind == "file":
            return self.send_file(parts[1])
        if kind == "tree":
            relative = os.path.normpath("/".join(parts[1:]))
            path = os.path.join(args.root, relative)
            if relative.startswith("..") or not os.path.isfile(path):
                return self.send_bytes(b"not found", "text/plain", 404)
            ctype = {"m3u8": "application/vnd.apple.mpegurl", "mpd": "application/dash+xml", "ts": "video/mp2t", "m4s": "video/iso.segment",
                     "mp4": "video/mp4", "m4a": "audio/mp4"}.get(path.rsplit(".", 1)[-1], "application/octet-stream")
            with open(path, "rb") as f:
                return self.send_bytes(f.read(), ctype)
        if kind == "once":
            with lock:
                seen = flaky.get(("once", parts[1]), 0)
                flaky[("once", parts[1])] = seen + 1
            if seen:
                return self.send_bytes(b"URL signature expired", "text/plain", 403)
            return self.send_file(parts[2])
        if kind == "slow":
            time.sleep(int(parts[1]) / 1000)
            return self.send_file(parts[2])
        if kind == "status":
            return self.send_bytes(b"", "text/plain", int(parts[1]))
        if kind == "flaky":
            key, n = parts[1], int(parts[2])
            with lock:
                seen = flaky.get(key, 0)
                flaky[key] = seen + 1
            if seen < n:
                return self.send_bytes(b"try again", "text/plain", 500)
            return self.send_file(parts[3])
        if kind == "truncated":
            with open(os.path.join(args.root, os.path.basename(parts[1])), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "big":
            return self.send_bytes(b"\0" * int(parts[1]), "video/mp4")
        if kind == "page":
            name = parts[1]
            html = f"""<!DOCTYPE html><html><head><title>Test page {name}</title>
<meta property="og:title" content="Test page {name}">
<meta property="og:description" content="A test clip #gg #testing">
<meta property="og:video" content="http://{host}/file/{name}">
<meta property="og:video:type" content="video/mp4"></head>
<body><video src="http://{host}/file/{name}"></video></body></html>"""
            return self.send_bytes(html.encode(), "text/html; charset=utf-8")
        if kind == "carousel":
            html = f"""<!DOCTYPE html><html><head><title>Carousel</title></head><body>
<video src="http://{host}/file/{parts[1]}"></video>
<video src="http://{host}/file/{parts[2]}"></video></body></html>"""
            return self.send_bytes(html.encode(), "text/html; charset=utf-8")
        if kind == "redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "redirect":
            n = int(parts[1])
            self.send_response(302)
            self.send_header("Location", f"/redirect/{n - 1}/{parts[2]}" if n > 1 else f"/file/{parts[2]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "html":
            return self.send_bytes(b"<!DOCTYPE html><html><body>No media here</body></html>", "text/html")
        if kind == "faulty":
            n = int(parts[1])
            r = n % 100
            if r < 10:
                return self.send_bytes(b"", "text/plain", 500)
            if r < 15:
                time.sleep(3)
                return self.send_file("noaudio.mp4")
            if r < 20:
                self.path = "/truncated/cuts.mp4"
                return self.do_GET()
            if r < 22:
                return self.send_bytes(b"\0" * 3_000_000, "video/mp4")
            if r < 27:
                return self.send_bytes(b"plain text, not media", "text/plain")
            return self.send_file(["noaudio.mp4", "poster.jpg", "sign.png", "blank.png"][n % 4])
        if kind == "gzbomb":
            return self.send_bytes(gzip.compress(b"\0" * (int(parts[1]) << 20)), "application/octet-stream")
        if kind == "ua-split":
            if "gg-fetch" in self.headers.get("User-Agent", ""):
                self.path = f"/page/{parts[1]}"
                return self.do_GET()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            chunk = b"<p>" + b"x" * 65536 + b"</p>"
            try:
                self.wfile.write(b"<!DOCTYPE html><html><body>")
                deadline = time.time() + 60
                while time.time() < deadline:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if kind == "huge-description":
            words = ("lorem ipsum dolor sit amet " * ((int(parts[1]) << 20) // 27 + 1))
            html = f"""<!DOCTYPE html><html><head><title>Huge</title>
<meta property="og:title" content="Huge description">
<meta property="og:description" content="{words}">
<meta property="og:video" content="http://{host}/file/{parts[2]}">
<meta property="og:video:type" content="video/mp4"></head><body></body></html>"""
            return self.send_bytes(html.encode(), "text/html; charset=utf-8")
        if kind == "ua-redirect":
            if "gg-fetch" in self.headers.get("User-Agent", ""):
                self.path = f"/page/{parts[2]}"
                return self.do_GET()
            self.send_response(302)
            self.send_header("Location", f"http://{parts[1]}/page/{parts[2]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "redirect-to":
            self.send_response(302)
            self.send_header("Location", f"http://{parts[1]}/file/{parts[2]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "stats":
            with lock:
                return self.send_bytes(json.dumps(counts).encode(), "application/json")
        return self.send_bytes(b"not found", "text/plain", 404)

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, size limits) reset connections on purpose

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(args.lifetime, server.shutdown).start()
server.serve_forever()

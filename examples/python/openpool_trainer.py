"""numpy-only client for the openpool DiLoCo trainer API (diloco/trainerapi).

The node runs the outer loop; this process runs the inner steps:

    client = Client("unix:/home/me/.openpool/trainer.sock")  # or "127.0.0.1:7000"
    client.init(weights)                  # dict name -> float32 ndarray, once
    while True:
        step, weights, h = client.start() # blocks until the node has step k's start weights
        weights = train(weights, h)       # your H inner steps
        client.put_weights(step, weights, loss=last_loss)
        update = client.update(step)      # optional: the averaged pseudo-gradient

Tensors travel as safetensors; this module reads and writes the format itself
(F32 written; F32, F16, BF16 read), so only numpy is needed. Run this file to
train a small numpy logistic regression against a node:

    python3 openpool_trainer.py --api 127.0.0.1:7000 --steps 3
"""

import argparse
import http.client
import json
import socket
import struct
import sys

import numpy as np

MAX_HEADER = 16 << 20


def encode_safetensors(tensors, metadata=None):
    """Encode a dict of name -> ndarray as safetensors bytes (F32)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(blobs)


_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": (None, 2)}


def decode_safetensors(buf):
    """Decode safetensors bytes into (dict name -> float32 ndarray, metadata)."""
    if len(buf) < 8:
        raise ValueError("safetensors: too short")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER or 8 + n > len(buf):
        raise ValueError("safetensors: bad header length %d" % n)
    header = json.loads(buf[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(buf)[8 + n :]
    out = {}
    for name, e in header.items():
        dt, size = _DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        count = int(np.prod(e["shape"], dtype=np.int64)) if e["shape"] else 1
        if end - b != count * size or end > len(data):
            raise ValueError("safetensors: tensor %r offsets do not match its shape" % name)
        raw = data[b:end]
        if e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=dt).astype(np.float32)
        out[name] = arr.reshape(e["shape"])
    return out, meta


class APIError(Exception):
    def __init__(self, status, message):
        super().__init__("%d: %s" % (status, message))
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class Client:
    """Talks to a node's trainer API at "unix:/path" or "host:port"."""

    def __init__(self, address, timeout=600):
        self.address = address
        self.timeout = timeout

    def _conn(self):
        if self.address.startswith("unix:"):
            return _UnixConnection(self.address[5:], self.timeout)
        host, port = self.address.rsplit(":", 1)
        return http.client.HTTPConnection(host, int(port), timeout=self.timeout)

    def _request(self, method, path, body=None):
        c = self._conn()
        try:
            headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            if r.status >= 300:
                try:
                    msg = json.loads(data)["error"]
                except Exception:
                    msg = data[:200].decode(errors="replace")
                raise APIError(r.status, msg)
            return data
        finally:
            c.close()

    def status(self):
        return json.loads(self._request("GET", "/v1/status"))

    def init(self, weights):
        self._request("PUT", "/v1/init", encode_safetensors(weights))

    def start(self, wait=300):
        """Return (step, weights, inner_steps) of the next outer step to train."""
        body = self._request("GET", "/v1/start?wait=%g" % wait)
        weights, meta = decode_safetensors(body)
        return int(meta["step"]), weights, int(meta["inner_steps"])

    def put_weights(self, step, weights, loss=None):
        meta = {"loss": repr(float(loss))} if loss is not None else None
        self._request("PUT", "/v1/outer/%d/weights" % step, encode_safetensors(weights, meta))

    def put_pseudograd(self, step, pseudograd, loss=None):
        meta = {"loss": repr(float(loss))} if loss is not None else None
        self._request("PUT", "/v1/outer/%d/pseudograd" % step, encode_safetensors(pseudograd, meta))

    def update(self, step, wait=300):
        """Return the averaged pseudo-gradient of outer step `step`."""
        return decode_safetensors(self._request("GET", "/v1/outer/%d/update?wait=%g" % (step, wait)))[0]


def logistic_regression(weights, x, y, h, lr=0.05, batch=16, seed=0):
    """h SGD steps of logistic regression; returns (weights, mean loss)."""
    rng = np.random.default_rng(seed)
    w = weights["linear.weight"].reshape(-1).astype(np.float32).copy()
    b = weights["linear.bias"].astype(np.float32).copy()
    total = 0.0
    for _ in range(h):
        idx = rng.integers(0, len(y), batch)
        z = x[idx] @ w + b[0]
        p = 1 / (1 + np.exp(-z))
        e = p - y[idx]
        w -= lr * (x[idx].T @ e) / batch
        b -= lr * e.mean()
        p = np.clip(p, 1e-7, 1 - 1e-7)
        total += float(-(y[idx] * np.log(p) + (1 - y[idx]) * np.log(1 - p)).mean())
    return {"linear.weight": w.reshape(1, -1), "linear.bias": b}, total / h


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--api", required=True, help='node trainer API: "unix:/path" or "127.0.0.1:port"')
    ap.add_argument("--steps", type=int, default=3, help="outer steps to train")
    ap.add_argument("--features", type=int, default=16)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1000, args.features)).astype(np.float32)
    y = (x @ rng.standard_normal(args.features) > 0).astype(np.float32)
    c = Client(args.api)
    c.init({"linear.weight": np.zeros((1, args.features), np.float32), "linear.bias": np.zeros(1, np.float32)})
    for _ in range(args.steps):
        step, w, h = c.start()
        w, loss = logistic_regression(w, x, y, h, seed=step)
        c.put_weights(step, w, loss)
        c.update(step)
        print("outer step %d: inner loss %.4f" % (step, loss), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

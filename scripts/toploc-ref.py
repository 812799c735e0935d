#!/usr/bin/env python3
"""Independent TOPLOC implementation in Python + NumPy, for round-trip tests.

It follows ../shared/toploc/FORMAT.md (the reference `toploc` package's
format) without sharing code with the Go package, so Go proofs decoded and
verified here (and proofs made here verified by Go) show byte compatibility.
Needs only python3 and numpy (Debian: apt-get install -y python3-numpy).

  toploc-ref.py prove ACTS -o PROOF [--prompt-len N | --skip-prefill] [--chunk 32] [--topk 128]
  toploc-ref.py verify PROOF ACTS [--prompt-len N]      exit 0 accepted, 3 rejected
  toploc-ref.py vectors VECTORS.json                     check the shared vectors

ACTS: .npy ('<u2' bf16 bits, '<f2', '<f4' rounded to bf16) or safetensors
(one tensor, [tokens, hidden] or [1, tokens, hidden]). PROOF: the JSON
container (decode_batching_size, topk, skip_prefill, base64 proofs) or the
binary "TPLC" container.
"""
import argparse
import base64
import json
import struct
import sys

import numpy as np

P = 65497


# ---- activations -----------------------------------------------------------

def f32_to_bf16(a):
    b = a.astype(np.float32).view(np.uint32)
    nan = (b & 0x7FFFFFFF) > 0x7F800000
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    r[nan] = 0x7FC0
    return r


def load_acts(path):
    """Returns (bits uint16 [rows, hidden], dtype name)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head == b"\x93NUMPY":
        a = np.load(path, allow_pickle=False)
        if a.dtype == np.float32:
            bits, dt = f32_to_bf16(a), "bf16"
        elif a.dtype == np.float16:
            bits, dt = a.view(np.uint16), "fp16"
        elif a.dtype in (np.uint16, np.int16):
            bits, dt = a.view(np.uint16), "bf16"
        else:
            raise SystemExit(f"{path}: dtype {a.dtype} not supported")
    else:
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        header.pop("__metadata__", None)
        if len(header) != 1:
            raise SystemExit(f"{path}: want exactly one tensor, have {sorted(header)}")
        (ent,) = header.values()
        lo, hi = ent["data_offsets"]
        raw = data[8 + n + lo:8 + n + hi]
        shape = ent["shape"]
        if ent["dtype"] == "BF16":
            bits, dt = np.frombuffer(raw, "<u2").reshape(shape), "bf16"
        elif ent["dtype"] == "F16":
            bits, dt = np.frombuffer(raw, "<u2").reshape(shape), "fp16"
        elif ent["dtype"] == "F32":
            bits, dt = f32_to_bf16(np.frombuffer(raw, "<f4").reshape(shape)), "bf16"
        else:
            raise SystemExit(f"{path}: dtype {ent['dtype']} not supported")
    while bits.ndim > 2 and bits.shape[0] == 1:
        bits = bits[0]
    if bits.ndim == 1:
        bits = bits.reshape(1, -1)
    return np.ascontiguousarray(bits, dtype=np.uint16), dt


def chunks(rows, prompt_len, chunk, skip):
    spans, start = [], 0
    if not skip:
        if not 1 <= prompt_len <= rows:
            raise SystemExit(f"prompt length {prompt_len} with {rows} rows")
        spans.append((0, prompt_len))
        start = prompt_len
    for r in range(start, rows, chunk):
        spans.append((r, min(r + chunk, rows)))
    return spans


# ---- the scheme ------------------------------------------------------------

def topk_indices(flat, k):
    """k largest |x| (sign bit cleared: NaN above Inf), ties to the lower index."""
    key = (flat & 0x7FFF).astype(np.int64)
    order = np.lexsort((np.arange(flat.size), -key))  # last key is primary
    return order[:k]


def injective_modulus(idx):
    for m in range(P, 0, -1):
        if len({int(i) % m for i in idx}) == len(idx):
            return m
    raise ValueError("no injective modulus")


def interpolate(xs, ys):
    """Coefficients (ascending) through (xs, ys) over GF(P), Lagrange form:
    sum_i y_i / M'(x_i) * M(X) / (X - x_i) with M = prod_j (X - x_j)."""
    n = len(xs)
    master = [1]  # ascending coefficients of M
    for x in xs:
        master = [(a - x * b) % P for a, b in zip([0] + master, master + [0])]
    coeffs = [0] * n
    for i in range(n):
        # synthetic division M / (X - x_i), from the top
        q = [0] * n
        q[n - 1] = master[n]
        for d in range(n - 1, 0, -1):
            q[d - 1] = (master[d] + xs[i] * q[d]) % P
        den = 1
        for j in range(n):
            if j != i:
                den = den * (xs[i] - xs[j]) % P
        scale = ys[i] * pow(den, P - 2, P) % P
        for d in range(n):
            coeffs[d] = (coeffs[d] + scale * q[d]) % P
    return coeffs


def evaluate(coeffs, x):
    r = 0
    for c in reversed(coeffs):
        r = (r * x + c) % P
    return r


def prove_chunk(flat, k):
    idx = topk_indices(flat, k)
    m = injective_modulus(idx)
    xs = [int(i) % m for i in idx]
    ys = [int(flat[i]) % P for i in idx]
    return m, interpolate(xs, ys)


def encode(m, coeffs):
    return struct.pack(">H", m) + b"".join(struct.pack(">H", c) for c in coeffs)


def decode(b):
    if len(b) < 4 or len(b) % 2:
        raise ValueError(f"chunk proof of {len(b)} bytes")
    vals = struct.unpack(f">{len(b) // 2}H", b)
    return vals[0], list(vals[1:])


def verify_chunk(flat, k, m, coeffs):
    if m == 0:
        return dict(exp_mismatches=k, mant_err_mean=2.0 ** 64, mant_err_median=2.0 ** 64, null=True)
    idx = topk_indices(flat, k)
    mism, errs = 0, []
    for i in idx:
        mine = int(flat[i])
        theirs = evaluate(coeffs, int(i) % m)
        if (mine >> 7) & 0xFF != (theirs >> 7) & 0xFF:
            mism += 1
        else:
            errs.append(abs((mine & 0x7F) - (theirs & 0x7F)))
    if not errs:
        return dict(exp_mismatches=mism, mant_err_mean=2.0 ** 64, mant_err_median=2.0 ** 64)
    errs.sort()
    return dict(exp_mismatches=mism, mant_err_mean=sum(errs) / len(errs), mant_err_median=float(errs[len(errs) // 2]))


# ---- proof files -----------------------------------------------------------

def read_proof(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] == b"TPLC":
        ver, flags, chunk, topk, count = struct.unpack(">BBHHI", b[4:14])
        if ver != 1 or len(b) != 14 + count * (2 + 2 * topk):
            raise SystemExit(f"{path}: bad binary proof")
        size = 2 + 2 * topk
        proofs = [decode(b[14 + i * size:14 + (i + 1) * size]) for i in range(count)]
        return dict(decode_batching_size=chunk, topk=topk, skip_prefill=bool(flags & 1)), proofs
    d = json.loads(b)
    proofs = [decode(base64.b64decode(s, validate=True)) for s in d["proofs"]]
    return d, proofs


# ---- commands --------------------------------------------------------------

def cmd_prove(a):
    bits, _ = load_acts(a.acts)
    out = dict(format="toploc/1", decode_batching_size=a.chunk, topk=a.topk, skip_prefill=a.skip_prefill, proofs=[])
    for s, e in chunks(bits.shape[0], a.prompt_len, a.chunk, a.skip_prefill):
        m, c = prove_chunk(bits[s:e].reshape(-1), a.topk)
        out["proofs"].append(base64.b64encode(encode(m, c)).decode())
    with open(a.output, "w") as f:
        json.dump(out, f)


def cmd_verify(a):
    params, proofs = read_proof(a.proof)
    bits, _ = load_acts(a.acts)
    k = params["topk"]
    spans = chunks(bits.shape[0], a.prompt_len, params["decode_batching_size"], params["skip_prefill"])
    results, ok = [], len(spans) == len(proofs)
    for (s, e), (m, c) in zip(spans, proofs):
        if len(c) != k:
            raise SystemExit(f"chunk proof with {len(c)} coefficients, topk {k}")
        r = verify_chunk(bits[s:e].reshape(-1), k, m, c)
        r["accepted"] = (not r.get("null") and r["exp_mismatches"] <= k - (90 * k + 127) // 128
                         and r["mant_err_mean"] <= 10 and r["mant_err_median"] <= 8)
        ok = ok and r["accepted"]
        results.append(r)
    # Re-encode what was decoded: the bytes must survive a round trip.
    reencoded = [base64.b64encode(encode(m, c)).decode() for m, c in proofs]
    print(json.dumps(dict(accepted=ok, chunks=results, expected_chunks=len(spans), proofs=reencoded)))
    sys.exit(0 if ok else 3)


def cmd_vectors(a):
    with open(a.vectors) as f:
        vectors = json.load(f)["vectors"]
    fails = 0
    for v in vectors:
        if "cases" in v:
            for c in v["cases"]:
                m = injective_modulus(c["x"])
                coeffs = interpolate([x % m for x in c["x"]], [y % P for y in c["y"]])
                fails += (m != c["modulus"]) + (coeffs != c["coeffs"]) + (encode(m, coeffs).hex() != c["proof_hex"])
            continue
        flat = [np.frombuffer(bytes.fromhex(t["bf16_bits_hex"]), ">u2").astype(np.uint16) for t in v["activations"]]
        k, n = v["topk"], v["decode_batching_size"]
        batches = [flat[0]] if not v["skip_prefill"] else []
        for i in range(0 if v["skip_prefill"] else 1, len(flat), n):
            batches.append(np.concatenate(flat[i:i + n]))
        for b, p in zip(batches, v["proofs"]):
            m, c = prove_chunk(b, k)
            fails += base64.b64encode(encode(m, c)).decode() != p["proof_b64"]
        for b, p, r in zip(batches, v["proofs"], v.get("verify_same", [])):
            got = verify_chunk(b, k, *decode(bytes.fromhex(p["proof_hex"])))
            fails += (got["exp_mismatches"], got["mant_err_mean"], got["mant_err_median"]) != (
                r["exp_mismatches"], r["mant_err_mean"], r["mant_err_median_cpp"])
    print(f"{len(vectors)} vectors, {fails} failures")
    sys.exit(1 if fails else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prove")
    p.add_argument("acts")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--prompt-len", type=int, default=0)
    p.add_argument("--skip-prefill", action="store_true")
    p.add_argument("--chunk", type=int, default=32)
    p.add_argument("--topk", type=int, default=128)
    p.set_defaults(fn=cmd_prove)
    v = sub.add_parser("verify")
    v.add_argument("proof")
    v.add_argument("acts")
    v.add_argument("--prompt-len", type=int, default=0)
    v.set_defaults(fn=cmd_verify)
    t = sub.add_parser("vectors")
    t.add_argument("vectors")
    t.set_defaults(fn=cmd_vectors)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()

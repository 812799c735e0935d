"""Tests of openpool_trainer.py against a real node trainer API.

Usage: python3 test_openpool_trainer.py ADDRESS
The node behind ADDRESS must run a single worker (a group of one) with the
trainer API, fp32 rounds, H=5 and the default outer optimizer (lr 0.7,
momentum 0.9); the Go test TestPythonClient in diloco/trainerapi does that.
Exits non-zero on the first failure.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openpool_trainer as ot  # noqa: E402


def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)


def test_codec():
    t = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5], np.float32)}
    got, meta = ot.decode_safetensors(ot.encode_safetensors(t, {"k": "v"}))
    check(meta == {"k": "v"}, "metadata round trip: %r" % meta)
    for k in t:
        check(np.array_equal(got[k], t[k]) and got[k].shape == t[k].shape, "tensor %s round trip" % k)
    for bad in [b"", b"\x00" * 7, b"\xff" * 8 + b"{}"]:
        try:
            ot.decode_safetensors(bad)
            check(False, "accepted malformed %r" % bad)
        except (ValueError, KeyError):
            pass


def test_api(addr):
    c = ot.Client(addr, timeout=60)
    rng = np.random.default_rng(3)
    w0 = {"linear.weight": rng.standard_normal((1, 8)).astype(np.float32), "linear.bias": np.array([0.25], np.float32)}
    c.init(w0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)

    step, start, h = c.start(wait=30)
    check(step == 0 and h == 5, "first step %d h %d" % (step, h))
    for k in w0:
        check(np.array_equal(start[k], w0[k]), "start weights of step 0 are the initial weights")
    end, loss = ot.logistic_regression(start, x, y, h)
    c.put_weights(step, end, loss)
    upd = c.update(step, wait=30)
    # Alone in the group, the averaged pseudo-gradient is our own, exactly.
    for k in w0:
        check(np.allclose(upd[k], start[k] - end[k], rtol=0, atol=1e-7), "update of %s is start - end" % k)

    # Wrong step and wrong layout are refused with 409, garbage with 400.
    for path, body, code in [
        ("/v1/outer/7/weights", ot.encode_safetensors(end), 409),
        ("/v1/outer/1/weights", ot.encode_safetensors({"other": np.zeros(3, np.float32)}), 409),
        ("/v1/outer/1/weights", b"garbage", 400),
    ]:
        try:
            c._request("PUT", path, body)
            check(False, "PUT %s accepted" % path)
        except ot.APIError as e:
            check(e.status == code, "PUT %s: status %d, want %d (%s)" % (path, e.status, code, e))

    # Step 1 starts from the Nesterov update: w - 0.7 * (g + 0.9 * g) on the first step.
    step, start1, _ = c.start(wait=30)
    check(step == 1, "second step is %d" % step)
    for k in w0:
        g = start[k] - end[k]
        want = start[k] - 0.7 * (g + 0.9 * g)
        check(np.allclose(start1[k], want, rtol=0, atol=1e-6), "step 1 start of %s follows Nesterov" % k)
    g1 = {k: start1[k] * 0.01 for k in start1}
    c.put_pseudograd(step, g1, loss=0.5)
    upd1 = c.update(step, wait=30)
    for k in g1:
        check(np.allclose(upd1[k], g1[k], rtol=0, atol=1e-7), "pseudograd mode update of %s" % k)
    check(c.status()["step"] >= 1, "status reports the step")


if __name__ == "__main__":
    test_codec()
    test_api(sys.argv[1])
    print("ok")

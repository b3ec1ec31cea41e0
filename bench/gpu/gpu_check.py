# ruff: noqa
"""GPU check (run from the project root on the H200 machine, after sourcing gpu_env.sh): every shipped and zoo network
built to ONNX runs on onnxruntime's CUDA provider, agrees with ORT-CPU and torch-CUDA, and is
timed beside torch-CUDA eager (fp32) and torch-CUDA channels_last+bf16.  Prints one line a network.

usage: python gpu_check.py [--quick] [--only NAME ...]
"""

import glob
import re
import sys
import time
import traceback

import numpy as np
import onnxruntime as ort
import torch

import netdsl
from netdsl.runtime import open_session

quick = "--quick" in sys.argv
dev = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: a dry run of this script
sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
only = sys.argv[sys.argv.index("--only") + 1 :] if "--only" in sys.argv else None
print(
    "torch",
    torch.__version__,
    torch.cuda.get_device_name(0) if dev == "cuda" else "no GPU (dry run)",
    "| onnxruntime",
    ort.__version__,
    ort.get_available_providers(),
    flush=True,
)

specs = sorted(glob.glob("specs/*.net")) + sorted(glob.glob("specs/zoo/*.net"))
pairs = [(s, n) for s in specs for n in re.findall(r"^\s*network\s+([A-Za-z_]\w*)", open(s).read(), re.M)]
if only:
    pairs = [p for p in pairs if any(o.lower() in (p[0] + p[1]).lower() for o in only)]


def cuda_time(fn, min_s=0.4, reps_min=5):
    fn()
    sync()
    ts = []
    t_end = time.perf_counter() + min_s
    while time.perf_counter() < t_end or len(ts) < reps_min:
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def ort_time(sess, x, min_s=0.4, reps_min=5):
    sess.run(None, {sess.get_inputs()[0].name: x})
    ts = []
    t_end = time.perf_counter() + min_s
    while time.perf_counter() < t_end or len(ts) < reps_min:
        t0 = time.perf_counter()
        sess.run(None, {sess.get_inputs()[0].name: x})
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def ort_iobinding_time(sess, x, min_s=0.4, reps_min=5):
    """ORT-CUDA with input and output on the GPU (no host copies): what a serving loop sees."""
    xb = ort.OrtValue.ortvalue_from_numpy(x, dev, 0)
    b = sess.io_binding()
    b.bind_ortvalue_input(sess.get_inputs()[0].name, xb)
    b.bind_output(sess.get_outputs()[0].name, dev)
    sess.run_with_iobinding(b)
    ts = []
    t_end = time.perf_counter() + min_s
    while time.perf_counter() < t_end or len(ts) < reps_min:
        t0 = time.perf_counter()
        sess.run_with_iobinding(b)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


fails = 0
print(
    f"{'network':<34} {'ok':<4} {'maxdiff cuda-cpu':>16} {'vs torch':>9} "
    f"{'b1 ort/torch ms':>16} {'b32 ort-io/torch/bf16 ms':>26}",
    flush=True,
)
for spec, net in pairs:
    try:
        s = netdsl.load(spec, network=net)
        shape = tuple(s.checked.graph.input_shape) if hasattr(s.checked.graph, "input_shape") else None
        model = s.to_onnx(seed=0)
        m = s.to_torch().eval()
        torch.manual_seed(0)
        m.load_state_dict({k: torch.from_numpy(v) for k, v in s.weights(seed=0).items()}, strict=True)
        inp = model.graph.input[0].type.tensor_type.shape.dim
        chw = tuple(d.dim_value for d in inp)[1:]
        rng = np.random.default_rng(0)
        x1 = rng.standard_normal((1, *chw), dtype=np.float32)
        gpu = open_session(model, dev)
        cpu = open_session(model, "cpu")
        assert dev == "cpu" or gpu.provider == "CUDAExecutionProvider", gpu.provider
        yg, yc = gpu.run(x1), cpu.run(x1)
        m = m.to(dev)
        with torch.no_grad():
            out = m(torch.from_numpy(x1).to(dev))
            yt = (out[0] if isinstance(out, (tuple, list)) else out).float().cpu().numpy()
        scale = max(1.0, float(np.abs(yc).max()))
        d_cc = float(np.abs(yg - yc).max()) / scale
        d_ct = float(np.abs(yg - yt.reshape(yg.shape)).max()) / scale
        ok = d_cc < 1e-3 and d_ct < 1e-3
        fails += not ok
        t1_o = ort_time(gpu.session, x1) * 1e3
        with torch.no_grad():
            xt = torch.from_numpy(x1).to(dev)
            t1_t = cuda_time(lambda: m(xt)) * 1e3
        if quick:
            print(
                f"{net + ' (' + spec.split('/')[-1] + ')':<34} {'ok' if ok else 'BAD':<4} {d_cc:16.2e} {d_ct:9.2e} "
                f"{t1_o:7.2f}/{t1_t:<7.2f}",
                flush=True,
            )
            continue
        b = 32
        x32 = rng.standard_normal((b, *chw), dtype=np.float32)
        t32_o = ort_iobinding_time(gpu.session, x32) * 1e3
        with torch.no_grad():
            xt = torch.from_numpy(x32).to(dev)
            t32_t = cuda_time(lambda: m(xt)) * 1e3
            mcl = m.to(memory_format=torch.channels_last)
            xcl = xt.to(memory_format=torch.channels_last)
            with torch.autocast(dev, dtype=torch.bfloat16):
                t32_bf = cuda_time(lambda: mcl(xcl)) * 1e3
        print(
            f"{net + ' (' + spec.split('/')[-1] + ')':<34} {'ok' if ok else 'BAD':<4} {d_cc:16.2e} {d_ct:9.2e} "
            f"{t1_o:7.2f}/{t1_t:<7.2f} {t32_o:8.2f}/{t32_t:7.2f}/{t32_bf:7.2f}",
            flush=True,
        )
        del m, gpu, cpu
        if dev == "cuda":
            torch.cuda.empty_cache()
    except Exception as e:
        fails += 1
        print(f"{net} ({spec}): ERROR {type(e).__name__}: {str(e)[:300]}", flush=True)
        traceback.print_exc(limit=3)
print(f"gpu_check: {len(pairs) - fails}/{len(pairs)} networks ok on CUDAExecutionProvider", flush=True)

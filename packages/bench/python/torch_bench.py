#!/usr/bin/env python3
"""PyTorch side of `pnpm bench` (packages/bench/src/systems/torch.ts starts it as a child process).

Protocol: one JSON object per line on stdin and stdout.
  child -> {"ready": true, "torch": version, "mkldnn": bool}            once, at start
  node  -> {"id": n, "workload": "W1", "sizes": {...}, "dataPath": p, "inputs": {name: {"shape": [...], "offset": bytes}},
            "labels": {"offset": bytes, "length": n} | null, "outputPath": q, "runs": R, "budgetMs": B, "quick": bool,
            "dtypes": ["float32", "float64"], "threads": [1, 2]}
  child -> {"id": n, "ok": true, "variants": [{"name", "threads", "dtype", "firstMs", "warmups", "runsMs": [...],
            "faults": [...], "outputs": {name: {"offset": bytes, "length": n}}}], "skipped": [{"name", "note"}]}
           or {"id": n, "ok": false, "error": message}
  node  -> {"exit": true}
Inputs are little-endian float32 (labels int32) at the given byte offsets of dataPath; the child writes every
output as little-endian float64 into outputPath. Each variant (threads x dtype, and oneDNN for W5) runs its first
(checked) iteration, warm-up, then all variants are timed in rotated rounds; faults are minor page faults per
timed iteration (resource.getrusage).
"""
import gc
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

EPS = 1e-5


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def use_threads(threads):
    """Sets the intra-op thread count; after a change, one parallel op (untimed) wakes the new pool."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        torch.ones(1 << 20).mul_(2)


class Inputs:
    def __init__(self, request, dtype):
        with open(request["dataPath"], "rb") as f:
            self.buffer = bytearray(f.read())
        self.meta = request["inputs"]
        self.dtype = dtype
        labels = request.get("labels")
        self.labels = None
        if labels is not None:
            self.labels = torch.frombuffer(self.buffer, dtype=torch.int32, count=labels["length"], offset=labels["offset"]).long().clone()

    def __call__(self, name, requires_grad=False):
        meta = self.meta[name]
        count = 1
        for extent in meta["shape"]:
            count *= extent
        t = torch.frombuffer(self.buffer, dtype=torch.float32, count=count, offset=meta["offset"]).reshape(meta["shape"])
        t = t.to(self.dtype).clone()
        return t.requires_grad_(requires_grad)


def load(module, state, inp):
    with torch.no_grad():
        for name, value in state.items():
            module.get_parameter(name).copy_(inp(value))


def norm_case(layer, inp):
    """W1-W3: loss = sum(y * g); results y and the gradients of x, weight and bias."""
    load(layer, {"weight": "gamma", "bias": "beta"}, inp)
    x = inp("x", True)
    g = inp("g")

    def iterate():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        y = layer(x)
        (y * g).sum().backward()
        return {"y": y.detach(), "dx": x.grad, "dgamma": layer.weight.grad, "dbeta": layer.bias.grad}

    return iterate


MLP_NAMES = {"fc1": "0", "bn1": "1", "ln1": "1", "fc2": "3", "bn2": "4", "ln2": "4", "fc3": "6"}
CONVNET_NAMES = {"conv1": "0", "bn1": "1", "conv2": "4", "bn2": "5", "fc": "9"}
MLP_PARAMETERS = ["fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias", "bn2.weight", "bn2.bias", "fc3.weight", "fc3.bias"]
MLP_CHECKED = [name for name in MLP_PARAMETERS if name not in ("fc1.bias", "fc2.bias")]
CONVNET_PARAMETERS = ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias", "fc.weight", "fc.bias"]
CONVNET_CHECKED = [name for name in CONVNET_PARAMETERS if name not in ("conv1.bias", "conv2.bias")]
PER_SAMPLE_PARAMETERS = [name.replace("bn", "ln") for name in MLP_PARAMETERS]


def sequential_name(names, name):
    layer, suffix = name.split(".")
    return f"{names[layer]}.{suffix}"


def make_mlp(sizes, dtype, inp, norm="batch"):
    features, hidden1, hidden2, classes = sizes["mlp"]
    make_norm = (lambda n: torch.nn.BatchNorm1d(n)) if norm == "batch" else (lambda n: torch.nn.LayerNorm(n))
    model = torch.nn.Sequential(
        torch.nn.Linear(features, hidden1), make_norm(hidden1), torch.nn.ReLU(),
        torch.nn.Linear(hidden1, hidden2), make_norm(hidden2), torch.nn.ReLU(),
        torch.nn.Linear(hidden2, classes),
    ).to(dtype)
    names = MLP_PARAMETERS if norm == "batch" else PER_SAMPLE_PARAMETERS
    load(model, {sequential_name(MLP_NAMES, name): name for name in names}, inp)
    return model


def make_convnet(sizes, dtype, inp):
    convnet = sizes["convnet"]
    channels1, channels2 = convnet["channels"]
    side = (convnet["imageSize"] // 2) // 2
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, channels1, 3, padding=1), torch.nn.BatchNorm2d(channels1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(channels1, channels2, 3, padding=1), torch.nn.BatchNorm2d(channels2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(channels2 * side * side, convnet["classes"]),
    ).to(dtype)
    load(model, {sequential_name(CONVNET_NAMES, name): name for name in CONVNET_PARAMETERS}, inp)
    return model


def training_case(model, inp, lr, checked, names):
    """W4, W7: zero_grad, cross-entropy, backward, Adam step; results: loss and checked gradients (before the update)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x = inp("x")
    labels = inp.labels
    parameters = dict(model.named_parameters())

    def iterate():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        results = {"loss": loss.detach()}
        for name in checked:
            results[name] = parameters[sequential_name(names, name)].grad.clone()
        optimizer.step()
        return results

    return iterate


def hvp_case(sizes, dtype, inp):
    """W8: double backward through the W4 MLP: g = grad(loss, create_graph=True), then grad of sum(g . v)."""
    model = make_mlp(sizes, dtype, inp)
    parameters = [model.get_parameter(sequential_name(MLP_NAMES, name)) for name in MLP_PARAMETERS]
    directions = [inp(f"v.{name}") for name in MLP_PARAMETERS]
    x = inp("x")
    labels = inp.labels

    def iterate():
        loss = F.cross_entropy(model(x), labels)
        gradients = torch.autograd.grad(loss, parameters, create_graph=True)
        along = sum((g * v).sum() for g, v in zip(gradients, directions))
        products = torch.autograd.grad(along, parameters)
        return {f"hvp.{name}": products[i] for i, name in enumerate(MLP_PARAMETERS) if name in MLP_CHECKED}

    return iterate


def tiny_ops_case(sizes, inp):
    """W10: h = x; h = tanh(h * a + b) * c, blocks times; loss = sum(h); backward to x, a, b, c."""
    leaves = [inp(name, True) for name in ("x", "a", "b", "c")]
    x, a, b, c = leaves
    blocks = sizes["tinyOps"]["blocks"]

    def iterate():
        for leaf in leaves:
            leaf.grad = None
        h = x
        for _ in range(blocks):
            h = torch.tanh(h * a + b) * c
        loss = h.sum()
        loss.backward()
        return {"loss": loss.detach(), "dx": x.grad, "da": a.grad, "db": b.grad, "dc": c.grad}

    return iterate


def per_sample_case(sizes, dtype, inp):
    """W11: a loop of one gradient per example of -sum(onehot_i * log_softmax(model(x_i))) through the LayerNorm MLP."""
    model = make_mlp(sizes, dtype, inp, norm="layer")
    parameters = [model.get_parameter(sequential_name(MLP_NAMES, name)) for name in PER_SAMPLE_PARAMETERS]
    x = inp("x")
    classes = sizes["mlp"][3]
    targets = F.one_hot(inp.labels, classes).to(dtype)
    batch = x.shape[0]
    examples = [(x[i:i + 1], targets[i:i + 1]) for i in range(batch)]

    def iterate():
        per_example = []
        for xi, ti in examples:
            loss = -(F.log_softmax(model(xi), dim=-1) * ti).sum()
            per_example.append(torch.autograd.grad(loss, parameters))
        results = {}
        for p, name in enumerate(PER_SAMPLE_PARAMETERS):
            stacked = torch.stack([gradients[p] for gradients in per_example])
            if name == "fc1.weight":
                results["ps.fc1.weight.norm"] = stacked.reshape(batch, -1).norm(dim=1)
            else:
                results[f"ps.{name}"] = stacked
        return results

    return iterate


def matmul_case(inp):
    a, b = inp("a"), inp("b")
    return lambda: {"c": a @ b}


def onednn_matmul_case(inp):
    """W5 by oneDNN: torch._C._nn.mkldnn_linear(a, b^T) on mkldnn tensors (the timed product stays in oneDNN's layout)."""
    a = inp("a").to_mkldnn()
    weight = inp("b").t().contiguous().to_mkldnn()
    state = {"first": True}

    def iterate():
        product = torch._C._nn.mkldnn_linear(a, weight)
        if state["first"]:
            state["first"] = False
            return {"c": product.to_dense()}
        return {"c": product}

    return iterate


def elementwise_case(inp):
    a, b, c = inp("a"), inp("b"), inp("c")

    def iterate():
        y = a * b + c
        return {"y": y, "sum": y.sum()}

    return iterate


def make_case(workload, sizes, dtype, inp):
    if workload == "W1":
        return norm_case(torch.nn.BatchNorm2d(sizes["batchNorm"][1]).to(dtype), inp)
    if workload == "W2":
        return norm_case(torch.nn.LayerNorm(sizes["layerNorm"][1]).to(dtype), inp)
    if workload == "W3":
        return norm_case(torch.nn.GroupNorm(sizes["groups"], sizes["groupNorm"][1]).to(dtype), inp)
    if workload == "W4":
        return training_case(make_mlp(sizes, dtype, inp), inp, 1e-3, MLP_CHECKED, MLP_NAMES)
    if workload == "W5":
        return matmul_case(inp)
    if workload == "W6":
        return elementwise_case(inp)
    if workload in ("W7", "W7b"):
        return training_case(make_convnet(sizes, dtype, inp), inp, 2e-3, CONVNET_CHECKED, CONVNET_NAMES)
    if workload == "W8":
        return hvp_case(sizes, dtype, inp)
    if workload == "W10":
        return tiny_ops_case(sizes, inp)
    if workload == "W11":
        return per_sample_case(sizes, dtype, inp)
    raise ValueError(f"torch_bench: unknown workload {workload}")


DTYPES = {"float32": torch.float32, "float64": torch.float64}


WARMUP_BUDGET_MS = 500  # stats.ts warmupBudgetMs
MAX_WARMUPS = 100  # stats.ts maxWarmups


def wants_warmup(done, spent_ms, latest_ms, quick):
    """Whether another warm-up iteration runs: stats.ts wantsWarmup."""
    if done < 1:
        return True
    if quick or latest_ms > 200:
        return False
    return done < 3 or (spent_ms < WARMUP_BUDGET_MS and done < MAX_WARMUPS)


def timed(iterate):
    start = time.perf_counter()
    results = iterate()
    return (time.perf_counter() - start) * 1000, results


def write_outputs(results, out, offset):
    described = {}
    for name, value in results.items():
        array = value.detach().to(torch.float64).contiguous().reshape(-1).numpy()
        out.write(array.tobytes())
        described[name] = {"offset": offset, "length": int(array.size)}
        offset += array.nbytes
    return described, offset


def variants_of(request):
    variants = []
    for dtype in request["dtypes"]:
        for threads in request["threads"]:
            suffix = "" if dtype == "float32" else "-f64"
            variants.append({"name": f"torch-{threads}T{suffix}", "threads": threads, "dtype": dtype, "onednn": False})
    if request["workload"] == "W5" and "float32" in request["dtypes"] and torch.backends.mkldnn.is_available():
        for threads in request["threads"]:
            variants.append({"name": f"torch-onednn-{threads}T", "threads": threads, "dtype": "float32", "onednn": True})
    return variants


def run(request):
    workload, sizes, quick = request["workload"], request["sizes"], request["quick"]
    variants = variants_of(request)
    skipped = []
    if workload == "W5" and not torch.backends.mkldnn.is_available():
        skipped.append({"name": "torch-onednn", "note": "torch.backends.mkldnn is not available in this build"})
    offset = 0
    with open(request["outputPath"], "wb") as out:
        for variant in variants:
            use_threads(variant["threads"])
            inp = Inputs(request, DTYPES[variant["dtype"]])
            variant["iterate"] = onednn_matmul_case(inp) if variant["onednn"] else make_case(workload, sizes, DTYPES[variant["dtype"]], inp)
            gc.collect()
            variant["firstMs"], results = timed(variant["iterate"])
            variant["outputs"], offset = write_outputs(results, out, offset)
    # warm-up as the node side does (stats.ts wantsWarmup)
    for variant in variants:
        use_threads(variant["threads"])
        estimate = variant["firstMs"]
        variant["warmups"], spent = 0, 0.0
        while wants_warmup(variant["warmups"], spent, estimate, quick):
            estimate, _ = timed(variant["iterate"])
            spent += estimate
            variant["warmups"] += 1
        variant["plannedRuns"] = max(3, min(request["runs"], int(request["budgetMs"] // max(estimate, 1e-3))))
        variant["runsMs"], variant["faults"] = [], []
    rounds = max(variant["plannedRuns"] for variant in variants)
    for round_index in range(rounds):
        order = variants[round_index % len(variants):] + variants[:round_index % len(variants)]
        for variant in order:
            if len(variant["runsMs"]) >= variant["plannedRuns"]:
                continue
            use_threads(variant["threads"])
            gc.collect()
            faults = minor_faults()
            ms, results = timed(variant["iterate"])
            variant["faults"].append(minor_faults() - faults)
            variant["runsMs"].append(ms)
            del results
    keys = ("name", "threads", "dtype", "firstMs", "warmups", "runsMs", "faults", "outputs")
    return {"variants": [{key: variant[key] for key in keys} for variant in variants], "skipped": skipped}


def main():
    torch.manual_seed(0)
    print(json.dumps({"ready": True, "torch": torch.__version__, "mkldnn": bool(torch.backends.mkldnn.is_available())}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("exit"):
            break
        try:
            reply = {"id": request["id"], "ok": True, **run(request)}
        except Exception as error:  # reported to the bench as this workload's error
            reply = {"id": request.get("id"), "ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()

"""Sparse embeddings (issue 15): lazy optimizer steps on a large table, and row_sparse_pull.

    python -m bench --suite sparse --size full     # 1,000,000 x 64 float32, batches of 4,096 ids
    python -m bench.sparse_embedding --size tiny   # the same cases, small (smoke run)

Cases, each the median time of a step on one table (float32, ``rows x dim``):

* ``sgd`` / ``adam`` **dense**: the optimizer step with a dense gradient of the whole table (what
  a dense Embedding gradient costs every step);
* ``sgd`` / ``adam`` **lazy**: the same optimizer from a row_sparse gradient of a batch of ids
  (``lazy_update=True``: only the looked-up rows and their states are read and written);
* **torch** ``nn.Embedding(sparse=True)`` with ``SparseAdam`` / ``SGD``: the same step in PyTorch
  (the gradient from ``backward`` of the same batch);
* **row_sparse_pull** of the batch's rows from a 'device' store into cpu(0) and cpu(1), against
  the NumPy gather of the same rows (``table[ids]``, the copy of the bytes pulled) and a
  contiguous memcpy of as many bytes.

Gradient memory: the row_sparse gradient holds ``unique(ids) x dim`` values plus the indices, the
dense one ``rows x dim``; both are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import mxlite as mx
from bench.timing import median_time

SIZES = {"tiny": (20_000, 16, 512), "full": (1_000_000, 64, 4_096)}


def _ids(rows: int, batch: int, seed: int = 0) -> np.ndarray:
    """A batch of ids with the repeats of real text (a Zipf-like draw), in [0, rows)."""
    rng = np.random.default_rng(seed)
    return (rng.zipf(1.2, batch) - 1) % rows


def _rsp_grad(ids: np.ndarray, rows: int, dim: int) -> Any:
    """The row_sparse gradient an Embedding backward produces for ``ids`` (ones upstream)."""
    uniq, counts = np.unique(ids, return_counts=True)
    vals = np.repeat(counts.astype(np.float32)[:, None], dim, axis=1)
    return mx.nd.sparse.row_sparse_array((vals, uniq), shape=(rows, dim))


def optimizer_cases(size: str, repeat: int) -> list[dict[str, Any]]:
    """Dense against lazy optimizer steps of one table (module docstring)."""
    rows, dim, batch = SIZES[size]
    ids = _ids(rows, batch)
    grad_rsp = _rsp_grad(ids, rows, dim)
    grad_dense = grad_rsp.tostype("default")
    out = []
    for name, kw in (("sgd", {"momentum": 0.9}), ("adam", {})):
        times = {}
        for kind, grad in (("dense", grad_dense), ("lazy", grad_rsp)):
            opt = mx.optimizer.create(name, learning_rate=0.01, **kw)
            weight = mx.nd.ones((rows, dim))
            state = opt.create_state_multi_precision(0, weight)
            times[kind] = median_time(
                lambda o=opt, w=weight, g=grad, s=state: o.update_multi_precision(0, w, g, s),
                repeat=repeat,
            )
            del weight, state
        out.append({
            "case": f"{name} step", "rows": rows, "dim": dim, "batch": batch,
            "unique_rows": int(grad_rsp.indices.shape[0]),
            "dense_ms": times["dense"] * 1e3, "lazy_ms": times["lazy"] * 1e3,
            "speedup": times["dense"] / times["lazy"],
        })  # fmt: skip
    dense_bytes = rows * dim * 4
    sparse_bytes = grad_rsp._values.nbytes + grad_rsp._indices.nbytes
    out.append({"case": "gradient bytes", "dense_bytes": dense_bytes, "row_sparse_bytes": sparse_bytes,
                "ratio": dense_bytes / sparse_bytes})  # fmt: skip
    return out


def embedding_step_case(size: str, repeat: int) -> dict[str, Any]:
    """Forward + backward of ``Embedding(sparse_grad=True)`` + lazy Adam step (one context)."""
    rows, dim, batch = SIZES[size]
    ids = mx.nd.array(_ids(rows, batch))
    emb = mx.gluon.nn.Embedding(rows, dim, sparse_grad=True)
    emb.initialize(mx.init.Uniform(0.1))
    trainer = mx.gluon.Trainer(emb.collect_params(), "adam", {"learning_rate": 0.01})

    def step() -> None:
        with mx.autograd.record():
            loss = emb(ids).sum()
        loss.backward()
        trainer.step(batch)

    return {
        "case": "mxlite Embedding fwd+bwd+Adam step",
        "ms": median_time(step, repeat=repeat) * 1e3,
    }


def torch_cases(size: str, repeat: int) -> list[dict[str, Any]]:
    """PyTorch ``nn.Embedding(sparse=True)``: the optimizer step alone (SparseAdam, SGD) and the
    whole fwd+bwd+step, same table and ids."""
    try:
        import torch
    except ImportError:
        return []
    rows, dim, batch = SIZES[size]
    ids = torch.from_numpy(_ids(rows, batch))
    out = []
    for name in ("SparseAdam", "SGD"):
        emb = torch.nn.Embedding(rows, dim, sparse=True)
        make = torch.optim.SparseAdam if name == "SparseAdam" else torch.optim.SGD
        optim = make(emb.parameters(), lr=0.01)  # SGD: plain (its momentum buffer densifies)

        def backward(o: Any = optim, e: Any = emb) -> None:
            o.zero_grad()
            e(ids).sum().backward()

        def opt_step(o: Any = optim) -> None:
            o.step()

        def full(o: Any = optim) -> None:
            backward()
            o.step()

        def no_sync() -> None:
            pass

        step_s = median_time(opt_step, repeat=repeat, sync=no_sync, settle=backward)
        full_s = median_time(full, repeat=repeat, sync=no_sync)
        out.append({"case": f"torch {name} step", "ms": step_s * 1e3})
        out.append({"case": f"torch fwd+bwd+{name} step", "ms": full_s * 1e3})
    return out


def pull_case(size: str, repeat: int) -> dict[str, Any]:
    """row_sparse_pull of one batch's rows into cpu(0) and cpu(1) against copy bandwidth."""
    rows, dim, batch = SIZES[size]
    ids_np = np.unique(_ids(rows, batch, seed=1))
    kv = mx.kv.create("device")
    table = np.random.default_rng(2).standard_normal((rows, dim)).astype(np.float32)
    kv.init(0, mx.nd.array(table).tostype("row_sparse"))
    ctxs = [mx.cpu(0), mx.cpu(1)]
    outs = [mx.nd.sparse.zeros("row_sparse", (rows, dim), ctx=c) for c in ctxs]
    rid = [mx.nd.array(ids_np, ctx=c, dtype="int64") for c in ctxs]
    t_pull = median_time(lambda: kv.row_sparse_pull(0, out=outs, row_ids=rid), repeat=repeat)
    assert np.array_equal(outs[1].data.asnumpy(), table[ids_np])
    nbytes = 2 * len(ids_np) * dim * 4
    t_gather = median_time(lambda: [table[ids_np] for _ in ctxs], repeat=repeat)
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    t_copy = median_time(lambda: np.copyto(dst, src), repeat=repeat)
    return {
        "case": "row_sparse_pull 2 contexts", "rows_pulled": int(len(ids_np)), "bytes": nbytes,
        "pull_ms": t_pull * 1e3, "pull_GBps": nbytes / t_pull / 1e9,
        "gather_GBps": nbytes / t_gather / 1e9, "memcpy_GBps": nbytes / t_copy / 1e9,
    }  # fmt: skip


def run(size: str, repeat: int, with_torch: bool = True) -> list[dict[str, Any]]:
    """Every case of the suite."""
    rows = optimizer_cases(size, repeat)
    rows.append(embedding_step_case(size, repeat))
    if with_torch:
        rows += torch_cases(size, repeat)
    rows.append(pull_case(size, repeat))
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a small Markdown report."""
    lines = ["| case | result |", "| --- | --- |"]
    for row in rows:
        rest = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in row.items()
            if k != "case"
        )
        lines.append(f"| {row['case']} | {rest} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sparse_embedding")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.size == "tiny" else 7)
    rows = run(args.size, repeat, not args.no_torch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sparse_embedding.json").write_text(json.dumps(rows, indent=1))
    text = markdown(rows)
    (out / "sparse_embedding.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How FAISS search time and memory grow with the index: the figures behind the README's
"Production layout" sizes (when the dense index should leave the gateway).

Random unit vectors of the encoder's size (384 float32 = 1.5 KB each), one query at a time as
the chat searches (k = 64, what ``retrieval.dense.DenseIndex.search`` asks for). Exact search
(``IndexFlatIP``, what the gateway uses up to ``XIAOBAO_APPROXIMATE_INDEX_ABOVE`` vectors) and
IVF with the gateway's own parameters (nlist = 4·√n, nprobe = 32). Random vectors have no
clusters, so IVF's recall here is a floor, not what real text gets.

    .venv/bin/python deploy/measure_faiss.py [--sizes 1000,10000,100000,1000000] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

DIM = 384
K = 64
QUERIES = 50


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    faiss.normalize_L2(x)
    return x


def timed_searches(index: faiss.Index, queries: np.ndarray) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each single-query search, sorted. CPU time (the process's)
    is what a search costs whatever else the machine runs; with --threads 1 it is the search's
    own."""
    index.search(queries[:1], K)  # warm-up
    wall, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        index.search(q[None, :], K)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return sorted(wall), sorted(cpu)


def pct(sorted_ms: list[float], q: float) -> float:
    return round(sorted_ms[min(len(sorted_ms) - 1, round(q / 100 * (len(sorted_ms) - 1)))], 2)


def measure(n: int, rng: np.random.Generator, ivf_from: int) -> dict:
    base = unit_vectors(n, rng)
    queries = unit_vectors(QUERIES, rng)
    flat = faiss.IndexFlatIP(DIM)
    flat.add(base)
    flat_ms, flat_cpu = timed_searches(flat, queries)
    row: dict = {"vectors": n, "memory_mb": round(base.nbytes / 2**20, 1),
                 "flat_p50_ms": pct(flat_ms, 50), "flat_p95_ms": pct(flat_ms, 95),
                 "flat_cpu_p50_ms": pct(flat_cpu, 50)}
    if n >= ivf_from:
        nlist = int(4 * np.sqrt(n))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        # k-means on 40 points a list (faiss's own advice is at least 39), not on all of them.
        ivf.train(base[rng.choice(n, size=min(n, 40 * nlist), replace=False)])
        ivf.add(base)
        ivf.nprobe = 32
        build_s = time.perf_counter() - start
        ivf_ms, ivf_cpu = timed_searches(ivf, queries)
        _, exact = flat.search(queries, 1)
        _, approx = ivf.search(queries, 1)
        row.update({"ivf_nlist": nlist, "ivf_build_s": round(build_s, 1),
                    "ivf_p50_ms": pct(ivf_ms, 50), "ivf_p95_ms": pct(ivf_ms, 95),
                    "ivf_cpu_p50_ms": pct(ivf_cpu, 50),
                    "ivf_recall_at_1_random": round(float((exact[:, 0] == approx[:, 0]).mean()),
                                                    2)})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: FAISS's own)")
    parser.add_argument("--ivf-from", type=int, default=100_000)
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(json.dumps({"threads": faiss.omp_get_max_threads(), "k": K, "queries": QUERIES}))
    for n in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(measure(n, rng, args.ivf_from)), flush=True)


if __name__ == "__main__":
    main()

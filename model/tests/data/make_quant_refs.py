#!/usr/bin/env python3
"""Writes the quantization fixtures in model/tests/data/quant/ .

The expected bytes come from the `gguf` PyPI package's numpy quantizers
(`gguf.quants.quantize`, bit-exact with ggml's reference C code), an implementation independent
of ours (model/src/gguf/quantize.rs). Inputs, as little-endian f32:

  * real weights: rows of Qwen2.5-Coder-0.5B's matrices (Q4_K, Q5_0, Q6_K and Q8_0 tensors),
    dequantized by the same package — what `edgecoder model quantize` re-quantizes;
  * pseudo-random values over many magnitudes, with zeros, negatives, subnormals, a block whose
    largest value is negative, a block of zeros, and values that land exactly on the rounding
    ties of Q8_0 (k + 0.5 steps) and Q4_0.

Each case is `<case>.in` (f32) and one `<case>.<type>` file per target type (the quantized
bytes), listed in `index.tsv` (case, element count, where the values come from). The Rust test
`model/tests/gguf_quantize.rs` compares our bytes with them.

Usage (the shared venv has `gguf` and numpy):
    $HOME/.cache/edgecoder/venv/bin/python model/tests/data/make_quant_refs.py \
        --qwen PATH/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
The path defaults to the model store (`edgecoder model path qwen2.5-coder-0.5b`).
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader
from gguf.quants import dequantize, quantize

OUT_DIR = Path(__file__).resolve().parent / "quant"
SEED = 20261207
TYPES = {"F16": T.F16, "Q8_0": T.Q8_0, "Q4_0": T.Q4_0}


def store_root() -> Path:
    if os.environ.get("EDGECODER_MODELS"):
        return Path(os.environ["EDGECODER_MODELS"])
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "edgecoder" / "models"


def random_values(rng: np.random.Generator) -> np.ndarray:
    blocks = []
    for _ in range(12):
        scale = np.float32(2.0) ** rng.integers(-20, 8)
        blocks.append((rng.standard_normal(32) * scale).astype(np.float32))
    blocks.append(np.zeros(32, dtype=np.float32))
    negative = rng.uniform(-1, 0.5, 32).astype(np.float32)
    negative[7] = -3.0
    blocks.append(negative)
    tiny = (rng.standard_normal(32) * 1e-6).astype(np.float32)
    tiny[3] = np.float32(6e-8)
    blocks.append(tiny)
    # Q8_0 ties: with max 127, d = 1 and x / d lands on k + 0.5.
    ties = (np.arange(32, dtype=np.float32) - 16) + np.float32(0.5)
    ties[0] = 127.0
    blocks.append(ties)
    # Q4_0 ties: with max -8, d = 1 and x * id + 8.5 lands on whole numbers.
    q4 = -(np.arange(32, dtype=np.float32) % 16) + np.float32(0.5)
    q4[5] = -8.0
    blocks.append(q4)
    return np.concatenate(blocks)


def real_rows(path: Path) -> list[tuple[str, np.ndarray, str]]:
    reader = GGUFReader(str(path))
    wanted = {
        "blk.0.attn_q.weight": 1,
        "blk.0.ffn_down.weight": 1,
        "blk.3.attn_v.weight": 1,
        "blk.11.ffn_down.weight": 1,
        "token_embd.weight": 2,
    }
    cases = []
    for tensor in reader.tensors:
        rows = wanted.get(tensor.name)
        if rows is None:
            continue
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        flat = values.reshape(-1, values.shape[-1])[:rows].reshape(-1)
        name = "real_" + tensor.name.replace(".", "_")
        cases.append((name, flat, f"{path.name}:{tensor.name} ({tensor.tensor_type.name}), {rows} row(s)"))
    missing = set(wanted) - {t.name for t in reader.tensors}
    if missing:
        sys.exit(f"{path} lacks {sorted(missing)}")
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = store_root() / "qwen2.5-coder-0.5b"
    parser.add_argument("--qwen", type=Path, default=None, help=f"the 0.5B GGUF (default: the .gguf in {default})")
    args = parser.parse_args()
    qwen = args.qwen or next(default.glob("*.gguf"), None)
    if qwen is None or not qwen.is_file():
        sys.exit(f"no Qwen2.5-Coder-0.5B GGUF at {args.qwen or default}: edgecoder model pull qwen2.5-coder-0.5b")
    rng = np.random.default_rng(SEED)
    cases = [("random", random_values(rng), f"numpy default_rng({SEED}): magnitudes 2^-20..2^8, zeros, ties")]
    cases += real_rows(qwen)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.iterdir():
        old.unlink()
    lines = ["# case\tvalues\tsource"]
    for name, values, source in cases:
        values.astype("<f4").tofile(OUT_DIR / f"{name}.in")
        for type_name, qtype in TYPES.items():
            quantized = np.asarray(quantize(values.reshape(-1, 32) if qtype != T.F16 else values, qtype))
            quantized.view(np.uint8).tofile(OUT_DIR / f"{name}.{type_name}")
        lines.append(f"{name}\t{values.size}\t{source}")
    (OUT_DIR / "index.tsv").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(cases)} cases to {OUT_DIR}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the dequantization fixtures in model/tests/data/dequant/ .

The expected f32 values come from the `gguf` PyPI package's numpy dequantizers
(`gguf.quants.dequantize`), an implementation independent of ours. Two kinds of input:

  * real blocks taken from real model files, for every type they contain
    (SmolLM2-135M: Q4_1, Q8_0, F32; Qwen2.5-Coder-0.5B: Q5_0, Q8_0, Q4_K, Q6_K, F32);
  * deterministic pseudo-random valid blocks for every supported type (random bits for the
    quantized values, finite f16 scales incl. subnormals, zeros and negatives; for the plain
    float types a sweep of special values as well).

Each case is two files, `<case>.in` (the raw ggml bytes) and `<case>.out` (little-endian f32),
listed in `index.tsv` (case, type name, where the bytes come from). The Rust test
`model/tests/gguf_dequant.rs` compares its output with `.out` bit for bit.

Usage (the shared venv has `gguf` and numpy):
    $HOME/.cache/edgecoder/venv/bin/python model/tests/data/make_dequant_refs.py \
        --smollm2 PATH/SmolLM2-135M-Instruct.Q4_1.gguf \
        --qwen PATH/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
The paths default to the model store (`edgecoder model path ID`'s location).
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T, GGUFReader
from gguf.quants import dequantize

OUT_DIR = Path(__file__).resolve().parent / "dequant"
SEED = 20261124
RANDOM_BLOCKS = 8
REAL_BLOCKS = 4

# Byte offsets of the f16 scale fields inside one block, per type: these must hold finite
# values; every other byte of a quantized block may hold any bit pattern.
F16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q8_0: [0],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}


def store_root() -> Path:
    if os.environ.get("EDGECODER_MODELS"):
        return Path(os.environ["EDGECODER_MODELS"])
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "edgecoder" / "models"


def random_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite f16 values spread over many magnitudes, with zeros, negatives and subnormals."""
    exps = rng.integers(-24, 6, size=n).astype(np.float32)
    vals = rng.uniform(0.5, 1.0, size=n).astype(np.float32) * np.exp2(exps)
    vals *= np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    vals[rng.random(n) < 0.1] = 0.0
    out = vals.astype(np.float16)
    assert np.all(np.isfinite(out))
    return out


def random_blocks(rng: np.random.Generator, qtype: T, n_blocks: int) -> np.ndarray:
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        blocks[:, off:off + 2] = random_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def special_floats(qtype: T, rng: np.random.Generator) -> np.ndarray:
    """Raw bytes of 256 scalar values of a float type, including edge cases."""
    if qtype == T.F32:
        special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45,
                            3.4028235e38, 1.17549435e-38], dtype=np.float32)
        rand = (rng.standard_normal(256 - len(special)) * 10).astype(np.float32)
        return np.concatenate([special, rand]).view(np.uint8)
    if qtype == T.F16:
        # 0x7E00 / 0x7E01: quiet NaNs (signalling NaNs convert differently in hardware).
        special = np.array([0x0000, 0x8000, 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x7E01,
                            0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF], dtype=np.uint16)
        rand = random_f16(rng, 256 - len(special)).view(np.uint16)
        return np.concatenate([special, rand]).view(np.uint8)
    if qtype == T.BF16:
        # bf16 -> f32 is a plain 16-bit shift in ggml, so even signalling NaNs keep their bits.
        special = np.array([0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0x7F81,
                            0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F], dtype=np.uint16)
        rand = rng.integers(0, 1 << 16, size=256 - len(special), dtype=np.uint16)
        return np.concatenate([special, rand]).view(np.uint8)
    raise ValueError(qtype)


def write_case(index: list, name: str, qtype: T, raw: np.ndarray, source: str) -> None:
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    expected = dequantize(raw, qtype).astype(np.float32, copy=False).reshape(-1)
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    assert expected.size == raw.size // type_size * block_size
    (OUT_DIR / f"{name}.in").write_bytes(raw.tobytes())
    (OUT_DIR / f"{name}.out").write_bytes(expected.astype("<f4").tobytes())
    index.append((name, qtype.name, source))


def real_cases(index: list, label: str, path: Path, wanted: list) -> None:
    reader = GGUFReader(str(path))
    for qtype in wanted:
        tensors = [t for t in reader.tensors if t.tensor_type == qtype]
        if not tensors:
            sys.exit(f"{path} has no {qtype.name} tensor")
        # The largest tensor of the type; blocks from its start and from its middle.
        t = max(tensors, key=lambda t: t.n_bytes)
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        data = np.asarray(t.data).view(np.uint8).reshape(-1)
        n = data.size // type_size
        count = REAL_BLOCKS if block_size > 1 else 64
        picks = list(range(count // 2)) + list(range(n // 2, n // 2 + count // 2))
        raw = np.concatenate([data[i * type_size:(i + 1) * type_size] for i in picks])
        write_case(index, f"real_{label}_{qtype.name.lower()}", qtype, raw,
                   f"{path.name}:{t.name}:blocks {picks[0]}..{picks[count // 2 - 1]},{picks[count // 2]}..{picks[-1]}")


def main() -> None:
    root = store_root()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smollm2", type=Path,
                    default=root / "smollm2-135m" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--qwen", type=Path,
                    default=root / "qwen2.5-coder-0.5b" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    args = ap.parse_args()

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.iterdir():
        old.unlink()
    rng = np.random.default_rng(SEED)
    index: list = []
    for qtype in (T.F32, T.F16, T.BF16):
        write_case(index, f"random_{qtype.name.lower()}", qtype, special_floats(qtype, rng),
                   f"pseudo-random seed {SEED}")
    for qtype in F16_FIELDS:
        write_case(index, f"random_{qtype.name.lower()}", qtype,
                   random_blocks(rng, qtype, RANDOM_BLOCKS), f"pseudo-random seed {SEED}")
    real_cases(index, "smollm2", args.smollm2, [T.Q4_1, T.Q8_0, T.F32])
    real_cases(index, "qwen05", args.qwen, [T.Q5_0, T.Q8_0, T.Q4_K, T.Q6_K, T.F32])

    with open(OUT_DIR / "index.tsv", "w") as f:
        f.write("# case\ttype\tsource (written by make_dequant_refs.py; expected values from gguf-py)\n")
        for row in index:
            f.write("\t".join(str(x) for x in row) + "\n")
    total = sum(p.stat().st_size for p in OUT_DIR.iterdir())
    print(f"wrote {len(index)} cases, {total} bytes, to {OUT_DIR}")


if __name__ == "__main__":
    main()

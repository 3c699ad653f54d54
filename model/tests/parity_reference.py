#!/usr/bin/env python3
"""Writes llama.cpp reference outputs for the parity tests (model/tests/parity.rs).

For every prompt in model/tests/data/parity/prompts.json this runs llama.cpp (through
llama-cpp-python, from the shared venv) on the same GGUF file and records:

- the prompt's token ids as llama.cpp tokenizes them (special tokens parsed, BOS as the model
  asks), so the Rust test feeds the engine exactly the same ids;
- the greedy continuation: up to 64 tokens, argmax of the raw logits at every step (no penalty,
  no sampler chain), stopping after an end-of-generation token;
- the first-step logits of the 128 most likely tokens (id and value), for the logits tolerance.

llama.cpp runs with an f32 KV cache, no flash attention and 2 threads, so the only expected
differences from our engine are summation order and rounding.

Usage:
    $HOME/.cache/edgecoder/venv/bin/python model/tests/parity_reference.py MODEL.gguf OUT.json \
        [--kinds code,chat] [--limit N]
"""

import argparse
import json
import pathlib
import sys

import llama_cpp
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
MAX_NEW_TOKENS = 64
TOP_LOGITS = 128


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--kinds", default="code,chat")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    prompts = json.loads((HERE / "data/parity/prompts.json").read_text())
    kinds = set(args.kinds.split(","))
    prompts = [p for p in prompts if p["kind"] in kinds]
    if args.limit:
        prompts = prompts[: args.limit]

    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=512,
        n_batch=512,
        n_threads=2,
        n_threads_batch=2,
        type_k=llama_cpp.GGML_TYPE_F32,
        type_v=llama_cpp.GGML_TYPE_F32,
        flash_attn=False,
        logits_all=False,
        verbose=False,
    )
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llm.n_vocab()

    def last_logits() -> np.ndarray:
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float32).copy()

    records = []
    for prompt in prompts:
        tokens = llm.tokenize(prompt["text"].encode(), add_bos=True, special=True)
        llm.reset()
        llm.eval(tokens)
        first = last_logits()
        top = np.argsort(-first)[:TOP_LOGITS]
        generated = []
        logits = first
        for _ in range(MAX_NEW_TOKENS):
            token = int(np.argmax(logits))
            generated.append(token)
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            llm.eval([token])
            logits = last_logits()
        records.append(
            {
                "name": prompt["name"],
                "kind": prompt["kind"],
                "text": prompt["text"],
                "prompt_tokens": [int(t) for t in tokens],
                "generated": generated,
                "generated_text": llm.detokenize(generated).decode("utf-8", "replace"),
                "top_logits": [[int(i), float(first[i])] for i in top],
            }
        )
        print(f"{prompt['name']}: {len(tokens)} prompt tokens, {len(generated)} generated", file=sys.stderr)

    out = {
        "model": pathlib.Path(args.model).name,
        "llama_cpp_python": llama_cpp.__version__,
        "max_new_tokens": MAX_NEW_TOKENS,
        "prompts": records,
    }
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

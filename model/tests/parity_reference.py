#!/usr/bin/env python3
"""Writes llama.cpp reference outputs for the parity tests (model/tests/parity.rs).

For every prompt in model/tests/data/parity/prompts.json this runs llama.cpp (through
llama-cpp-python, from the shared venv) on a GGUF file and records:

- the prompt's token ids as llama.cpp tokenizes them (special tokens parsed, BOS as the model
  asks), so the Rust test feeds the engine exactly the same ids;
- the greedy continuation: up to 64 tokens, argmax of the raw logits at every step (no penalty,
  no sampler chain), stopping after an end-of-generation token;
- the first-step logits of the 128 most likely tokens (id and value), for the logits tolerance.

llama.cpp runs with an f32 KV cache, no flash attention and 2 threads.

--f32 first writes a copy of the file with every tensor dequantized to f32 by gguf-py (the
same dequantization our engine's `WeightMode::Dequantized` does, bit for bit) and runs llama.cpp
on that copy: no activation is quantized on either side, so the only differences left are the
order of f32 sums. Without --f32 llama.cpp runs the quantized file as shipped.

--self-check compares llama.cpp with itself on the quantized file: the prompt evaluated in one
batch against the same prompt fed one token at a time (the two use different, equally valid
kernels). It prints how far its own first-step logits and greedy continuations move, which is
the noise floor any other engine on the quantized file is measured against.

Usage:
    $HOME/.cache/edgecoder/venv/bin/python model/tests/parity_reference.py MODEL.gguf OUT.json \
        [--f32] [--kinds code,chat] [--limit N]
    $HOME/.cache/edgecoder/venv/bin/python model/tests/parity_reference.py MODEL.gguf --self-check \
        [--kinds code,chat] [--limit N]
"""

import argparse
import json
import pathlib
import sys
import tempfile

import gguf
import llama_cpp
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
MAX_NEW_TOKENS = 64
TOP_LOGITS = 128


def write_f32_copy(src: pathlib.Path, dst: pathlib.Path) -> None:
    """Copies `src` to `dst` with every tensor dequantized to f32 (metadata unchanged)."""
    reader = gguf.GGUFReader(src)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(dst, arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), val_type, sub_type=sub_type)
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        writer.add_tensor(t.name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def load(model: str, n_batch: int = 512) -> llama_cpp.Llama:
    return llama_cpp.Llama(
        model_path=model,
        n_ctx=512,
        n_batch=n_batch,
        n_ubatch=n_batch,
        n_threads=2,
        n_threads_batch=2,
        type_k=llama_cpp.GGML_TYPE_F32,
        type_v=llama_cpp.GGML_TYPE_F32,
        flash_attn=False,
        logits_all=False,
        verbose=False,
    )


def last_logits(llm: llama_cpp.Llama) -> np.ndarray:
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def greedy(llm: llama_cpp.Llama, tokens: list[int]) -> tuple[np.ndarray, list[int]]:
    """First-step logits and the greedy continuation of `tokens`."""
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    llm.reset()
    llm.eval(tokens)
    first = last_logits(llm)
    generated = []
    logits = first
    for _ in range(MAX_NEW_TOKENS):
        token = int(np.argmax(logits))
        generated.append(token)
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        llm.eval([token])
        logits = last_logits(llm)
    return first, generated


def self_check(model: str, prompts: list[dict]) -> int:
    batched = load(model, 512)
    single = load(model, 1)
    same = 0
    worst = 0.0
    for prompt in prompts:
        tokens = batched.tokenize(prompt["text"].encode(), add_bos=True, special=True)
        a, ga = greedy(batched, tokens)
        b, gb = greedy(single, tokens)
        top = np.argsort(-a)[:TOP_LOGITS]
        delta = float(np.max(np.abs(a[top] - b[top])))
        worst = max(worst, delta)
        at = next((i for i, (x, y) in enumerate(zip(ga, gb)) if x != y), None)
        same += ga == gb
        print(f"{prompt['name']}: max |Δ logit| {delta:.4f}, continuation "
              f"{'identical' if ga == gb else f'differs at token {at}'}")
    print(f"llama.cpp batch 512 vs batch 1: {same}/{len(prompts)} identical, max |Δ logit| {worst:.4f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out", nargs="?")
    parser.add_argument("--f32", action="store_true", help="run llama.cpp on an f32 copy")
    parser.add_argument("--self-check", action="store_true", help="llama.cpp against itself")
    parser.add_argument("--kinds", default="code,chat")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    prompts = json.loads((HERE / "data/parity/prompts.json").read_text())
    kinds = set(args.kinds.split(","))
    prompts = [p for p in prompts if p["kind"] in kinds]
    if args.limit:
        prompts = prompts[: args.limit]
    if args.self_check:
        return self_check(args.model, prompts)
    if not args.out:
        parser.error("OUT is required unless --self-check")

    with tempfile.TemporaryDirectory() as tmp:
        model_file = args.model
        if args.f32:
            model_file = str(pathlib.Path(tmp) / "f32.gguf")
            write_f32_copy(pathlib.Path(args.model), pathlib.Path(model_file))
        llm = load(model_file)
        records = []
        for prompt in prompts:
            tokens = llm.tokenize(prompt["text"].encode(), add_bos=True, special=True)
            first, generated = greedy(llm, tokens)
            top = np.argsort(-first)[:TOP_LOGITS]
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
            print(f"{prompt['name']}: {len(tokens)} prompt tokens, {len(generated)} generated",
                  file=sys.stderr)
        del llm

    out = {
        "model": pathlib.Path(args.model).name,
        "weights": "f32" if args.f32 else "quantized",
        "llama_cpp_python": llama_cpp.__version__,
        "max_new_tokens": MAX_NEW_TOKENS,
        "prompts": records,
    }
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

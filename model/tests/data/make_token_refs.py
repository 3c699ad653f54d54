#!/usr/bin/env python3
"""Write reference token ids from llama.cpp for the tokenizer tests.

For every model file found, tokenizes each string of STRINGS with llama.cpp (through
llama-cpp-python, vocabulary only) in three modes (plain, with special tokens parsed, with
BOS/EOS added) and writes model/tests/data/token_refs/<model>.json. The Rust test
tests/tokenizer_refs.rs must produce exactly these ids.

Usage: make_token_refs.py [MODEL_DIR]   (default: $HOME/.cache/edgecoder/dev-models)
Needs: pip install llama-cpp-python (into $HOME/.cache/edgecoder/venv).
"""

import hashlib
import json
import os
import pathlib
import sys

from llama_cpp import Llama, __version__ as llama_cpp_version

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
}

PYTHON_CODE = '''def is_palindrome(s: str) -> bool:
    """Return True if s reads the same both ways."""
    cleaned = [c.lower() for c in s if c.isalnum()]
    return cleaned == cleaned[::-1]


if __name__ == "__main__":
\tassert is_palindrome("A man, a plan, a canal: Panama")
'''

JS_CODE = """const add = (a, b) => a + b;
function greet(name) {
  return `Hello, ${name}!`;   // template literal
}
export default { add, greet };
"""

RUST_CODE = """fn main() {
    let v: Vec<u32> = (0..10).map(|x| x * x).collect();
    println!("{:?} {}", v, v.iter().sum::<u32>());
}
"""

STRINGS = [
    "Hello, world!",
    "",
    " ",
    " leading space",
    "trailing space ",
    "multiple   spaces   between  words",
    "tabs\tand\ttabs\t\tend",
    "line1\nline2\r\nline3\n\n\nline4",
    PYTHON_CODE,
    JS_CODE,
    RUST_CODE,
    "x = 1234567890 + 3.14159 - 42",
    "I'm sure you're right, they'll say it's THEIR'S, we've I'D",
    "Ünïcödé àccents ñ ß café",
    "e\u0301 combining acute, n\u0303",
    "中文字符和标点，测试。",
    "日本語のテキストです",
    "한국어 텍스트",
    "emoji 😀🎉👍🏽 and ZWJ 👨\u200d👩\u200d👧 family",
    "Русский текст и ёлка",
    "العربية نص",
    "math ∑∫√∞ ≤ ≥ ≠ ± ×",
    "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>after",
    "<start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<s> </s> <unk> <pad> <bos> <eos>",
    "   \n\t  \n",
    "supercalifragilisticexpialidocious",
    "https://example.com/path/to?query=1&x=2#frag",
    '{"key": [1, 2, {"nested": null}], "b": true}',
    '<div class="a">text &amp; more</div>',
    "Ａ full-width ＡＢＣ１２３",
    "control\x01\x02chars\x7fdel",
    "non-breaking\u00a0space and\u3000ideographic space",
    " " * 20 + "x",
    "a'b'c''d' 's 'S",
    "```python\nprint('hi')\n```\n",
    "٣٤٥ ５６ ⅫⅣ ²³",
    "\n\n\n\n",
    "    indented\n        more\n",
]

MODES = [
    {"add_special": False, "parse_special": False},
    {"add_special": False, "parse_special": True},
    {"add_special": True, "parse_special": True},
]


def main() -> None:
    model_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/edgecoder/dev-models"))
    out_dir = pathlib.Path(__file__).resolve().parent / "token_refs"
    out_dir.mkdir(exist_ok=True)
    for name, file_name in MODELS.items():
        path = model_dir / file_name
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        cases = []
        for text in STRINGS:
            for mode in MODES:
                ids = llm.tokenize(text.encode("utf-8"), add_bos=mode["add_special"], special=mode["parse_special"])
                cases.append({"text": text, **mode, "ids": ids})
        doc = {
            "model": name,
            "file": file_name,
            "generator": f"llama-cpp-python {llama_cpp_version} (llama_tokenize, vocab_only)",
            "cases": cases,
        }
        target = out_dir / f"{name}.json"
        target.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        digest = hashlib.sha256(target.read_bytes()).hexdigest()[:16]
        print(f"{name}: {len(cases)} cases -> {target} ({digest})")


if __name__ == "__main__":
    main()

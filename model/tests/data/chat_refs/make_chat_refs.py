#!/usr/bin/env python3
"""Write reference chat-template renderings for tests/chat_refs.rs.

Renders each conversation of CONVERSATIONS with Python's jinja2, set up the way Hugging Face
transformers runs chat templates (sandboxed, trim_blocks, lstrip_blocks, loop controls,
raise_exception, tojson = json.dumps(ensure_ascii=False)), and writes
model/tests/data/chat_refs/<name>.json with the template source, the BOS/EOS texts, and for
every case either the rendered text or the exception message.

Templates come from the GGUF files (tokenizer.chat_template) when they are found, and from
EXTRA_TEMPLATES (small templates exercising Python string methods, loop controls and
raise_exception, which the model templates do not use).

Usage: make_chat_refs.py [MODEL_DIR]   (default: $HOME/.cache/edgecoder/dev-models)
Needs: pip install jinja2 gguf (into $HOME/.cache/edgecoder/venv).
"""

import json
import os
import pathlib
import sys

import gguf
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
}

EXTRA_TEMPLATES = {
    # Mistral-style: alternating roles enforced with raise_exception, Python string methods.
    "alternating": {
        "bos": "<s>",
        "eos": "</s>",
        "source": (
            "{{ bos_token }}{% for message in messages %}"
            "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
            "{% endif %}"
            "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'].strip() + ' [/INST]' }}"
            "{% elif message['role'] == 'assistant' %}{{ message['content'].strip() + eos_token }}"
            "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
            "{% endfor %}"
        ),
    },
    # Loop controls, namespaces, dict/str methods, tojson with indent, whitespace control.
    "features": {
        "bos": "<bos>",
        "eos": "<eos>",
        "source": """{%- set ns = namespace(system='') -%}
{%- for message in messages %}
  {%- if message.role == 'system' %}
    {%- set ns.system = message.content | trim %}
    {%- continue %}
  {%- endif %}
  {%- if message.content.startswith('STOP') %}
    {%- break %}
  {%- endif %}
<{{ message.role | upper }}>
{% if ns.system and loop.index0 == 1 %}[{{ ns.system }}] {% endif %}{{ message.content.replace('\\t', '  ') }}
  {%- for call in message.tool_calls | default([]) %}
CALL {{ call.function.name }} {{ call.function.arguments | tojson(indent=2) }}
    {%- for key, value in call.function.arguments.items() %} {{ key }}={{ value | tojson }}{% endfor %}
  {%- endfor %}
{% endfor %}
{%- if tools %}TOOLS {{ tools | tojson }}
{% endif %}
{%- if add_generation_prompt %}<ASSISTANT>
{% endif %}""",
    },
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def call(name, arguments):
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


CONVERSATIONS = [
    {"name": "single_user", "messages": [{"role": "user", "content": "Write is_palindrome in Python."}], "add_generation_prompt": True},
    {"name": "single_user_no_prompt", "messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": False},
    {
        "name": "system_user",
        "messages": [{"role": "system", "content": "You are a careful coder."}, {"role": "user", "content": "Fix the bug."}],
        "add_generation_prompt": True,
    },
    {
        "name": "multi_turn",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And 3+3?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "multi_turn_no_system",
        "messages": [
            {"role": "user", "content": "  hello  "},
            {"role": "assistant", "content": "Hi! How can I help?"},
            {"role": "user", "content": "STOP here"},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "unicode_and_code",
        "messages": [
            {"role": "user", "content": "Explain:\n```python\ndef f(x):\n\treturn x * 2  # ×2 😀\n```\n中文 {{ not_a_var }} {% raw %}"},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "tools_offered",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    {
        "name": "tool_call_and_results",
        "messages": [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Paris", "unit": "c"}), call("get_weather", {"unit": "f", "city": "Oslo"})]},
            {"role": "tool", "content": "{\"temp\": 21}"},
            {"role": "tool", "content": "{\"temp\": 50.5, \"note\": \"<cold>\"}"},
            {"role": "assistant", "content": "Paris 21°C, Oslo 50.5°F."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    {
        "name": "assistant_text_and_tool_call",
        "messages": [
            {"role": "user", "content": "Run it"},
            {"role": "assistant", "content": "Running now.", "tool_calls": [call("run", {"code": "print(1)\n", "timeout": 1.0, "flags": [True, None, 3]})]},
        ],
        "add_generation_prompt": False,
    },
    {
        "name": "roles_not_alternating",
        "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        "add_generation_prompt": True,
    },
]


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def render_all(source, bos, eos):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    template = env.from_string(source)
    cases = []
    for conv in CONVERSATIONS:
        case = {k: v for k, v in conv.items()}
        kwargs = {"messages": conv["messages"], "add_generation_prompt": conv["add_generation_prompt"], "bos_token": bos, "eos_token": eos}
        if conv.get("tools"):
            kwargs["tools"] = conv["tools"]
        try:
            case["expected"] = template.render(**kwargs)
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e)
        cases.append(case)
    return cases


def token_text(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return ""
    token_id = int(field.parts[field.data[0]][0])
    tokens = reader.fields["tokenizer.ggml.tokens"]
    return bytes(tokens.parts[tokens.data[token_id]]).decode("utf-8")


def write(out_dir, name, source, bos, eos, origin):
    doc = {"name": name, "origin": origin, "bos_token": bos, "eos_token": eos, "template": source, "cases": render_all(source, bos, eos)}
    target = out_dir / f"{name}.json"
    target.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: {len(doc['cases'])} cases -> {target}")


def main():
    model_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/edgecoder/dev-models"))
    out_dir = pathlib.Path(__file__).resolve().parent
    for name, file_name in MODELS.items():
        path = model_dir / file_name
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["tokenizer.chat_template"]
        source = bytes(field.parts[field.data[0]]).decode("utf-8")
        bos = token_text(reader, "tokenizer.ggml.bos_token_id")
        eos = token_text(reader, "tokenizer.ggml.eos_token_id")
        write(out_dir, name, source, bos, eos, f"tokenizer.chat_template of {file_name}")
    for name, t in EXTRA_TEMPLATES.items():
        write(out_dir, name, t["source"], t["bos"], t["eos"], "inline template in make_chat_refs.py")


if __name__ == "__main__":
    main()

"""The official `ollama` Python SDK against edgecoderd's Ollama-compatible API."""

import ollama
from common import BASE, MODEL, TOKEN, run_tests

client = ollama.Client(host=BASE, headers={"Authorization": f"Bearer {TOKEN}"})


def test_version():
    assert client._request_raw("GET", "/api/version").json()["version"]


def test_tags_list_the_model():
    names = [m.model for m in client.list().models]
    assert MODEL in names, names


def test_show():
    info = client.show(MODEL)
    assert info.details.format == "gguf"


def test_chat_and_streamed_chat_agree():
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    options = {"num_predict": 16, "temperature": 0}
    full = client.chat(model=MODEL, messages=messages, options=options)
    assert full.message.role == "assistant" and full.message.content.strip()
    assert full.done and full.eval_count > 0 and full.prompt_eval_count > 0
    parts = list(client.chat(model=MODEL, messages=messages, options=options, stream=True))
    assert parts[-1].done and parts[-1].done_reason in ("stop", "length")
    assert "".join(p.message.content for p in parts) == full.message.content


def test_generate_and_streamed_generate_agree():
    options = {"num_predict": 10, "temperature": 0}
    full = client.generate(model=MODEL, prompt="def fib(n):", raw=True, options=options)
    assert full.response and full.done
    streamed = "".join(p.response for p in client.generate(model=MODEL, prompt="def fib(n):", raw=True, options=options, stream=True))
    assert streamed == full.response
    templated = client.generate(model=MODEL, prompt="Say hello.", options=options)
    assert templated.response.strip()


def test_unknown_model_is_an_error_with_status():
    try:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    except ollama.ResponseError as e:
        assert e.status_code == 404 and "no-such-model" in e.error, (e.status_code, e.error)
    else:
        raise AssertionError("unknown model accepted")


def test_missing_token_is_401():
    anonymous = ollama.Client(host=BASE)
    try:
        anonymous.list()
    except ollama.ResponseError as e:
        assert e.status_code == 401
    else:
        raise AssertionError("no token accepted")


run_tests(globals())

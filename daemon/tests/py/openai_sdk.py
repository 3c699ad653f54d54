"""The official `openai` Python SDK against edgecoderd's OpenAI-compatible API."""

import concurrent.futures

import openai
from common import BASE, MODEL, TOKEN, run_tests

client = openai.OpenAI(base_url=f"{BASE}/v1", api_key=TOKEN, max_retries=0, timeout=300)


def test_models_lists_the_loaded_model():
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids, ids


def test_chat_completion():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
        max_tokens=24,
        temperature=0,
    )
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip(), r
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 24, r.usage
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_matches_the_non_streamed_answer():
    messages = [{"role": "user", "content": "Name three colours."}]
    full = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=20, temperature=0, seed=7)
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=20, temperature=0, seed=7, stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.content:
                pieces.append(c.delta.content)
            if c.finish_reason:
                finish = c.finish_reason
    assert "".join(pieces) == full.choices[0].message.content, (pieces, full)
    assert finish == full.choices[0].finish_reason
    assert usage is not None and usage.completion_tokens == full.usage.completion_tokens


def test_array_of_parts_content_and_stop():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Count from 1 to 10: "}, {"type": "text", "text": "1, 2,"}]}],
        max_tokens=40,
        temperature=0,
        stop=["5"],
    )
    assert "5" not in r.choices[0].message.content, r.choices[0].message.content


def test_sampling_with_a_seed_repeats():
    kwargs = dict(model=MODEL, messages=[{"role": "user", "content": "Write a word."}], max_tokens=12, temperature=0.9, top_p=0.9, seed=42)
    a = client.chat.completions.create(**kwargs).choices[0].message.content
    b = client.chat.completions.create(**kwargs).choices[0].message.content
    assert a == b, (a, b)


def test_completions_and_streamed_completions():
    r = client.completions.create(model=MODEL, prompt="def add(a, b):\n    return", max_tokens=8, temperature=0)
    assert r.choices[0].text, r
    assert r.usage.completion_tokens <= 8
    text = "".join(c.choices[0].text for c in client.completions.create(
        model=MODEL, prompt="def add(a, b):\n    return", max_tokens=8, temperature=0, stream=True) if c.choices)
    assert text == r.choices[0].text, (text, r.choices[0].text)


def test_suffix_needs_fim_tokens():
    # SmolLM2 has no fill-in-the-middle tokens: a clear 400, not a silent wrong answer.
    try:
        client.completions.create(model=MODEL, prompt="def f(", suffix="\n    return x", max_tokens=4)
    except openai.BadRequestError as e:
        assert "fill-in-the-middle" in str(e), e
    else:
        raise AssertionError("suffix was accepted by a model without FIM tokens")


def test_unknown_model_is_404():
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    except openai.NotFoundError as e:
        assert e.status_code == 404
        assert "no-such-model" in e.message
    else:
        raise AssertionError("unknown model accepted")


def test_absurd_max_tokens_is_400():
    try:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=10**12)
    except openai.BadRequestError as e:
        assert "max_tokens" in e.message
    else:
        raise AssertionError("absurd max_tokens accepted")


def test_bad_role_and_bad_part_are_400():
    for messages in ([{"role": "wizard", "content": "hi"}], [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], []):
        try:
            client.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
        except openai.BadRequestError:
            pass
        else:
            raise AssertionError(f"accepted {messages}")


def test_wrong_token_is_401():
    bad = openai.OpenAI(base_url=f"{BASE}/v1", api_key="wrong", max_retries=0)
    try:
        bad.models.list()
    except openai.AuthenticationError as e:
        assert e.status_code == 401
    else:
        raise AssertionError("wrong token accepted")


def _stream(i):
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Say the number {i} in words."}],
        max_tokens=12, temperature=0, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_sixteen_concurrent_streams_get_their_own_complete_answers():
    expected = {}
    for i in range(16):
        r = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"Say the number {i} in words."}], max_tokens=12, temperature=0)
        expected[i] = r.choices[0].message.content
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = dict(zip(range(16), pool.map(_stream, range(16))))
    assert got == expected, {i: (got[i], expected[i]) for i in range(16) if got[i] != expected[i]}


def test_a_full_queue_answers_429():
    # The test daemon's queue holds 20 waiting requests: 40 at once must see some 429s, and the
    # ones admitted must finish.
    def one(i):
        try:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": f"Tell a story {i}."}], max_tokens=24)
            return "ok"
        except openai.RateLimitError as e:
            assert "busy" in e.message
            return "429"
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        results = list(pool.map(one, range(40)))
    assert results.count("429") > 0 and results.count("ok") > 0, results


run_tests(globals())

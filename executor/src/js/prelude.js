// The sandbox's own JavaScript, evaluated in every fresh context before the user's code:
// `console`/`print` (node-like formatting), a node-compatible `assert`, `test`/`it`, a `require`
// that only knows `assert`, CommonJS `module`/`exports` objects, and the hooks the executor uses
// to run tests and to describe values and errors. It receives the host functions as arguments,
// so the user's code can reach them only through what this file exposes.
(function (write, begin, record) {
  'use strict';
  const G = globalThis;
  const objectIs = Object.is;
  const isArray = Array.isArray;
  const getProto = Object.getPrototypeOf;
  const getDesc = Object.getOwnPropertyDescriptor;
  const ownNames = Object.getOwnPropertyNames;
  const ownSymbols = Object.getOwnPropertySymbols;
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  const toTag = (o) => Object.prototype.toString.call(o);
  const fnSource = (f) => Function.prototype.toString.call(f);
  const IDENT = /^[A-Za-z_$][\w$]*$/;
  const MAX_DEPTH = 2;
  const MAX_ITEMS = 100;
  const BREAK_LENGTH = 72;

  function quote(s) {
    let q = "'";
    if (s.includes("'")) {
      if (!s.includes('"')) q = '"';
      else if (!s.includes('`') && !s.includes('${')) q = '`';
    }
    let out = '';
    for (const ch of s) {
      if (ch === q || ch === '\\') out += '\\' + ch;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (ch < ' ') out += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
      else out += ch;
    }
    return q + out + q;
  }

  function formatKey(k) {
    if (typeof k === 'symbol') return '[' + k.toString() + ']';
    return IDENT.test(k) ? k : quote(k);
  }

  function constructorName(o) {
    let p = o;
    while (p !== null) {
      const d = getDesc(p, 'constructor');
      if (d !== undefined && typeof d.value === 'function' && d.value.name !== '') {
        return d.value.name;
      }
      p = getProto(p);
    }
    return null;
  }

  function formatFunction(f) {
    let src = '';
    try { src = fnSource(f); } catch (e) { src = ''; }
    const name = typeof f.name === 'string' ? f.name : '';
    if (src.startsWith('class')) return '[class ' + (name || '(anonymous)') + ']';
    const kind = constructorName(getProto(f)) || 'Function';
    const label = kind === 'GeneratorFunction' ? 'GeneratorFunction' : 'Function';
    return name ? '[' + label + ': ' + name + ']' : '[' + label + ' (anonymous)]';
  }

  function errorText(e) {
    let head;
    try { head = String(e.name) + ': ' + String(e.message); } catch (x) { head = 'Error'; }
    if (head.endsWith(': ')) head = head.slice(0, -2);
    const stack = typeof e.stack === 'string' ? e.stack : '';
    const frames = stack.split('\n').filter((l) => l.trim().startsWith('at '));
    return frames.length ? head + '\n' + frames.join('\n') : head;
  }

  function propertyText(o, k, level, seen) {
    const d = getDesc(o, k);
    if (d !== undefined && (d.get || d.set)) {
      return d.get && d.set ? '[Getter/Setter]' : d.get ? '[Getter]' : '[Setter]';
    }
    return formatValue(o[k], level + 1, seen);
  }

  function enumerableKeys(o) {
    const keys = [];
    for (const k of ownNames(o)) {
      const d = getDesc(o, k);
      if (d !== undefined && d.enumerable) keys.push(k);
    }
    for (const s of ownSymbols(o)) {
      const d = getDesc(o, s);
      if (d !== undefined && d.enumerable) keys.push(s);
    }
    return keys;
  }

  function isIndex(k, length) {
    if (typeof k !== 'string' || !/^(0|[1-9]\d*)$/.test(k)) return false;
    return Number(k) < length;
  }

  function arrayEntries(a, level, seen) {
    const out = [];
    let holes = 0;
    const shown = Math.min(a.length, MAX_ITEMS);
    for (let i = 0; i < shown; i++) {
      if (!hasOwn(a, i)) { holes++; continue; }
      if (holes) { out.push('<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>'); holes = 0; }
      out.push(propertyText(a, String(i), level, seen));
    }
    if (holes) out.push('<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>');
    if (a.length > shown) {
      const more = a.length - shown;
      out.push('... ' + more + ' more item' + (more > 1 ? 's' : ''));
    }
    return out;
  }

  function wrap(prefix, open, close, entries, level) {
    if (entries.length === 0) return prefix + open + close;
    const single = prefix + open + ' ' + entries.join(', ') + ' ' + close;
    if (single.length + 2 * level <= BREAK_LENGTH && !single.includes('\n')) return single;
    const pad = '  '.repeat(level + 1);
    return prefix + open + '\n' + pad + entries.join(',\n' + pad) + '\n' + '  '.repeat(level) + close;
  }

  function formatValue(v, level, seen) {
    switch (typeof v) {
      case 'undefined': return 'undefined';
      case 'string': return quote(v);
      case 'number': return objectIs(v, -0) ? '-0' : String(v);
      case 'bigint': return String(v) + 'n';
      case 'boolean': return String(v);
      case 'symbol': return v.toString();
      default: break;
    }
    if (v === null) return 'null';
    if (seen.includes(v)) return '[Circular *1]';
    const ctor = constructorName(v);
    let prefix = ctor === null ? '[Object: null prototype] ' : ctor === 'Object' ? '' : ctor + ' ';
    let open = '{';
    let close = '}';
    let entries = [];
    let keys = enumerableKeys(v);
    if (typeof v === 'function') {
      const base = formatFunction(v);
      if (keys.length === 0) return base;
      prefix = base + ' ';
    } else if (isArray(v)) {
      if (level > MAX_DEPTH) return '[Array]';
      prefix = ctor === 'Array' ? '' : prefix;
      open = '[';
      close = ']';
      seen.push(v);
      entries = arrayEntries(v, level, seen);
      seen.pop();
      keys = keys.filter((k) => !isIndex(k, v.length));
    } else if (v instanceof Error) {
      const text = errorText(v);
      if (keys.length === 0) return text;
      prefix = text + ' ';
    } else if (v instanceof Date) {
      return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    } else if (v instanceof RegExp) {
      if (keys.length === 0 || (keys.length === 1 && keys[0] === 'lastIndex')) return String(v);
      prefix = String(v) + ' ';
    } else if (v instanceof Number || v instanceof String || v instanceof Boolean) {
      const inner = formatValue(v.valueOf(), level + 1, seen);
      const name = v instanceof Number ? 'Number' : v instanceof String ? 'String' : 'Boolean';
      if (v instanceof String) keys = keys.filter((k) => !isIndex(k, v.length));
      if (keys.length === 0) return '[' + name + ': ' + inner + ']';
      prefix = '[' + name + ': ' + inner + '] ';
    } else if (v instanceof Promise) {
      return 'Promise { <state hidden> }';
    } else if (v instanceof WeakMap || v instanceof WeakSet) {
      return (ctor || 'Weak') + ' { <items unknown> }';
    }
    if (level > MAX_DEPTH) return '[' + (ctor || 'Object') + ']';
    seen.push(v);
    if (v instanceof Map) {
      prefix = (ctor || 'Map') + '(' + v.size + ') ';
      for (const [k, val] of v) {
        entries.push(formatValue(k, level + 1, seen) + ' => ' + formatValue(val, level + 1, seen));
      }
    } else if (v instanceof Set) {
      prefix = (ctor || 'Set') + '(' + v.size + ') ';
      for (const val of v) entries.push(formatValue(val, level + 1, seen));
    } else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      prefix = (ctor || 'TypedArray') + '(' + v.length + ') ';
      open = '[';
      close = ']';
      entries = arrayEntries(v, level, seen);
      keys = keys.filter((k) => !isIndex(k, v.length));
    }
    for (const k of keys) entries.push(formatKey(k) + ': ' + propertyText(v, k, level, seen));
    seen.pop();
    return wrap(prefix, open, close, entries, level);
  }

  /** Node's `util.inspect`, in the subset this sandbox supports. */
  function inspect(v) {
    return formatValue(v, 0, []);
  }

  function formatArgs(args) {
    const parts = [];
    let i = 0;
    if (typeof args[0] === 'string' && args.length > 1 && args[0].includes('%')) {
      i = 1;
      parts.push(args[0].replace(/%[sdifjoOc%]/g, (m) => {
        if (m === '%%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (m) {
          case '%s': return typeof a === 'string' ? a : typeof a === 'bigint' ? a + 'n' : inspect(a);
          case '%d': return typeof a === 'bigint' ? a + 'n' : typeof a === 'symbol' ? 'NaN' : String(Number(a));
          case '%i': return typeof a === 'bigint' ? a + 'n' : typeof a === 'symbol' ? 'NaN' : String(parseInt(a, 10));
          case '%f': return typeof a === 'symbol' ? 'NaN' : String(parseFloat(a));
          case '%j': try { return JSON.stringify(a); } catch (e) { return '[Circular]'; }
          case '%c': return '';
          default: return inspect(a);
        }
      }));
    }
    for (; i < args.length; i++) parts.push(typeof args[i] === 'string' ? args[i] : inspect(args[i]));
    return parts.join(' ');
  }

  const counts = new Map();
  const console = {
    log(...args) { write(1, formatArgs(args) + '\n'); },
    info(...args) { write(1, formatArgs(args) + '\n'); },
    debug(...args) { write(1, formatArgs(args) + '\n'); },
    error(...args) { write(2, formatArgs(args) + '\n'); },
    warn(...args) { write(2, formatArgs(args) + '\n'); },
    trace(...args) { write(2, 'Trace: ' + formatArgs(args) + '\n'); },
    dir(value) { write(1, inspect(value) + '\n'); },
    assert(condition, ...args) {
      if (!condition) write(2, 'Assertion failed' + (args.length ? ': ' + formatArgs(args) : '') + '\n');
    },
    count(label = 'default') {
      const n = (counts.get(label) || 0) + 1;
      counts.set(label, n);
      write(1, label + ': ' + n + '\n');
    },
    countReset(label = 'default') { counts.delete(label); },
  };

  function print(...args) { write(1, formatArgs(args) + '\n'); }

  // ---- assert -------------------------------------------------------------------------------

  class AssertionError extends Error {
    constructor(options) {
      super(options.message);
      this.name = 'AssertionError';
      this.code = 'ERR_ASSERTION';
      this.actual = options.actual;
      this.expected = options.expected;
      this.operator = options.operator;
      this.generatedMessage = options.generated;
    }
  }

  function fail(actual, expected, message, operator, generated) {
    if (message instanceof Error) throw message;
    const own = message !== undefined;
    throw new AssertionError({
      message: own ? String(message) : generated,
      actual, expected, operator, generated: !own,
    });
  }

  function isBoxed(v) {
    return v instanceof Number || v instanceof String || v instanceof Boolean ||
      (typeof BigInt === 'function' && toTag(v) === '[object BigInt]') ||
      toTag(v) === '[object Symbol]';
  }

  function ownCompareKeys(o, strict) {
    const keys = Object.keys(o);
    if (strict) {
      for (const s of ownSymbols(o)) {
        const d = getDesc(o, s);
        if (d !== undefined && d.enumerable) keys.push(s);
      }
    }
    return keys;
  }

  function deepEqual(a, b, strict, memo) {
    if (strict ? objectIs(a, b) : (a == b || (a !== a && b !== b))) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (strict && getProto(a) !== getProto(b)) return false;
    if (toTag(a) !== toTag(b)) return false;
    if (isArray(a) !== isArray(b)) return false;
    if (a instanceof Date) {
      if (a.getTime() !== b.getTime()) return false;
    } else if (a instanceof RegExp) {
      if (String(a) !== String(b) || a.lastIndex !== b.lastIndex) return false;
    } else if (a instanceof Error) {
      if (a.message !== b.message || a.name !== b.name) return false;
    } else if (isBoxed(a)) {
      if (!objectIs(a.valueOf(), b.valueOf())) return false;
    } else if (ArrayBuffer.isView(a)) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) {
        if (!(strict ? objectIs(a[i], b[i]) : a[i] == b[i])) return false;
      }
    }
    for (let i = 0; i < memo.length; i += 2) {
      if (memo[i] === a && memo[i + 1] === b) return true;
    }
    memo.push(a, b);
    try {
      if (a instanceof Map) {
        if (!(b instanceof Map) || a.size !== b.size) return false;
        for (const [k, v] of a) {
          if (b.has(k)) {
            if (!deepEqual(v, b.get(k), strict, memo)) return false;
            continue;
          }
          let found = false;
          for (const [k2, v2] of b) {
            if (deepEqual(k, k2, strict, memo) && deepEqual(v, v2, strict, memo)) { found = true; break; }
          }
          if (!found) return false;
        }
      } else if (a instanceof Set) {
        if (!(b instanceof Set) || a.size !== b.size) return false;
        for (const v of a) {
          if (b.has(v)) continue;
          let found = false;
          for (const w of b) {
            if (deepEqual(v, w, strict, memo)) { found = true; break; }
          }
          if (!found) return false;
        }
      }
      const ka = ownCompareKeys(a, strict);
      const kb = ownCompareKeys(b, strict);
      if (ka.length !== kb.length) return false;
      for (const k of ka) {
        if (!hasOwn(b, k)) return false;
        if (!deepEqual(a[k], b[k], strict, memo)) return false;
      }
      return true;
    } finally {
      memo.length -= 2;
    }
  }

  function ok(value, message) {
    if (!value) {
      fail(value, true, message, '==', arguments.length === 0
        ? 'No value argument passed to `assert.ok()`'
        : 'The expression evaluated to a falsy value');
    }
  }

  function matchesExpected(err, expected, message) {
    if (expected === undefined) return;
    if (typeof expected === 'function') {
      if (expected.prototype !== undefined && err instanceof expected) return;
      if (expected === Error || Error.isPrototypeOf(expected)) {
        fail(err, expected, message, 'throws',
          'The error is expected to be an instance of "' + expected.name + '". Received ' + inspect(err));
      }
      if (expected.call({}, err) === true) return;
      fail(err, expected, message, 'throws', 'The validation function is expected to return "true". Received false');
    }
    if (expected instanceof RegExp) {
      if (expected.test(String(err))) return;
      fail(err, expected, message, 'throws',
        'The input did not match the regular expression ' + String(expected) + '. Input:\n\n' + inspect(String(err)));
    }
    if (typeof expected === 'object' && expected !== null) {
      for (const k of Object.keys(expected)) {
        const want = expected[k];
        const got = err === null || err === undefined ? undefined : err[k];
        if (want instanceof RegExp && typeof got === 'string') {
          if (!want.test(got)) {
            fail(err, expected, message, 'throws', 'The "' + k + '" property ' + inspect(got) + ' did not match ' + String(want));
          }
        } else if (!deepEqual(got, want, true, [])) {
          fail(err, expected, message, 'throws',
            'Expected values to be strictly deep-equal:\n+ actual - expected\n\n  Comparison {\n+   ' + k + ': ' +
            inspect(got) + '\n-   ' + k + ': ' + inspect(want) + '\n  }');
        }
      }
    }
  }

  function assert(value, message) {
    if (arguments.length === 0) ok();
    else ok(value, message);
  }
  const methods = {
    ok,
    fail(message) {
      fail(undefined, undefined, message === undefined ? 'Failed' : message, 'fail', 'Failed');
    },
    equal(actual, expected, message) {
      if (!(actual == expected || (actual !== actual && expected !== expected))) {
        fail(actual, expected, message, '==', inspect(actual) + ' == ' + inspect(expected));
      }
    },
    notEqual(actual, expected, message) {
      if (actual == expected || (actual !== actual && expected !== expected)) {
        fail(actual, expected, message, '!=', inspect(actual) + ' != ' + inspect(expected));
      }
    },
    strictEqual(actual, expected, message) {
      if (!objectIs(actual, expected)) {
        fail(actual, expected, message, 'strictEqual',
          'Expected values to be strictly equal:\n\n' + inspect(actual) + ' !== ' + inspect(expected));
      }
    },
    notStrictEqual(actual, expected, message) {
      if (objectIs(actual, expected)) {
        fail(actual, expected, message, 'notStrictEqual',
          'Expected "actual" to be strictly unequal to: ' + inspect(expected));
      }
    },
    deepEqual(actual, expected, message) {
      if (!deepEqual(actual, expected, false, [])) {
        fail(actual, expected, message, 'deepEqual',
          'Expected values to be loosely deep-equal:\n\n' + inspect(actual) +
          '\n\nshould loosely deep-equal\n\n' + inspect(expected));
      }
    },
    notDeepEqual(actual, expected, message) {
      if (deepEqual(actual, expected, false, [])) {
        fail(actual, expected, message, 'notDeepEqual',
          'Expected "actual" not to be loosely deep-equal to: ' + inspect(expected));
      }
    },
    deepStrictEqual(actual, expected, message) {
      if (!deepEqual(actual, expected, true, [])) {
        fail(actual, expected, message, 'deepStrictEqual',
          'Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ' + inspect(actual) +
          '\n- ' + inspect(expected));
      }
    },
    notDeepStrictEqual(actual, expected, message) {
      if (deepEqual(actual, expected, true, [])) {
        fail(actual, expected, message, 'notDeepStrictEqual',
          'Expected "actual" not to be strictly deep-equal to: ' + inspect(expected));
      }
    },
    throws(fn, expected, message) {
      if (typeof fn !== 'function') {
        throw new TypeError('The "fn" argument must be of type function. Received ' + inspect(fn));
      }
      if (typeof expected === 'string') {
        message = expected;
        expected = undefined;
      }
      let threw = false;
      let err;
      try { fn(); } catch (e) { threw = true; err = e; }
      if (!threw) {
        const name = expected && typeof expected.name === 'string' && expected.name ? ' (' + expected.name + ')' : '';
        fail(undefined, expected, message, 'throws', 'Missing expected exception' + name + '.');
      }
      matchesExpected(err, expected, message);
    },
    doesNotThrow(fn, message) {
      if (typeof fn !== 'function') {
        throw new TypeError('The "fn" argument must be of type function. Received ' + inspect(fn));
      }
      try { fn(); } catch (e) {
        const text = e !== null && typeof e === 'object' && 'message' in e ? e.message : inspect(e);
        fail(e, undefined, typeof message === 'string' ? message : undefined, 'doesNotThrow',
          'Got unwanted exception.\nActual message: "' + text + '"');
      }
    },
    match(string, regexp, message) {
      if (typeof string !== 'string' || !regexp.test(string)) {
        fail(string, regexp, message, 'match',
          'The input did not match the regular expression ' + String(regexp) + '. Input:\n\n' + inspect(string));
      }
    },
    doesNotMatch(string, regexp, message) {
      if (typeof string !== 'string' || regexp.test(string)) {
        fail(string, regexp, message, 'doesNotMatch',
          'The input was expected to not match the regular expression ' + String(regexp) + '. Input:\n\n' + inspect(string));
      }
    },
    ifError(value) {
      if (value !== null && value !== undefined) {
        if (value instanceof Error) throw value;
        fail(value, null, undefined, 'ifError', 'ifError got unwanted exception: ' + inspect(value));
      }
    },
    AssertionError,
  };
  Object.assign(assert, methods);
  function strict(value, message) {
    if (arguments.length === 0) ok();
    else ok(value, message);
  }
  Object.assign(strict, methods, {
    equal: methods.strictEqual,
    notEqual: methods.notStrictEqual,
    deepEqual: methods.deepStrictEqual,
    notDeepEqual: methods.notDeepStrictEqual,
  });
  strict.strict = strict;
  assert.strict = strict;

  // ---- tests, modules ------------------------------------------------------------------------

  function test(name, options, fn) {
    const body = [name, options, fn].find((x) => typeof x === 'function');
    if (body === undefined) throw new TypeError('test() needs a function to run');
    body();
  }

  const builtins = { 'assert': assert, 'node:assert': assert, 'assert/strict': strict, 'node:assert/strict': strict };
  function require(name) {
    if (typeof name === 'string' && hasOwn(builtins, name)) return builtins[name];
    const err = new Error("Cannot find module '" + String(name) + "': module loading is outside the on-device subset");
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }

  const module = { exports: {} };

  /** [kind, message, stack, isAssertion, generatedMessage] of a thrown value. */
  function describe(e) {
    try {
      if (e !== null && typeof e === 'object') {
        const kind = 'name' in e ? String(e.name) : (constructorName(e) || 'Error');
        const message = 'message' in e ? String(e.message) : inspect(e);
        const stack = typeof e.stack === 'string' ? e.stack : '';
        const assertion = e instanceof AssertionError || e.code === 'ERR_ASSERTION';
        return [kind, message, stack, assertion, e.generatedMessage === true];
      }
      return [e === null ? 'null' : 'Uncaught', inspect(e), '', false, false];
    } catch (x) {
      return ['Uncaught', 'an unprintable value was thrown', '', false, false];
    }
  }

  function runTest(id, fn) {
    begin(id);
    try {
      fn();
    } catch (e) {
      const d = describe(e);
      record(id, d[3] ? 1 : 2, d[0], d[1], d[2], d[4]);
      return;
    }
    record(id, 0, '', '', '', false);
  }

  // Run-time wall behind JS_DYNAMIC_EVAL: no `eval`, and every function constructor
  // (`Function`, and `.constructor` of any function, generator or async function) throws, so code
  // built at run time cannot run even when the check is bypassed. `instanceof Function` and
  // `Function.prototype` keep working.
  const refuse = (name) => ({
    [name]() {
      throw new EvalError('code built at run time (' + name + ') is outside the on-device subset');
    },
  })[name];
  const constructors = [
    ['Function', Function.prototype],
    ['GeneratorFunction', getProto(function* () {})],
    ['AsyncFunction', getProto(async function () {})],
    ['AsyncGeneratorFunction', getProto(async function* () {})],
  ];
  for (const [name, proto] of constructors) {
    const blocked = refuse(name);
    Object.defineProperty(blocked, 'prototype', { value: proto, writable: false, configurable: false, enumerable: false });
    Object.defineProperty(proto, 'constructor', { value: blocked, writable: false, configurable: false, enumerable: false });
    if (name === 'Function') Object.defineProperty(G, 'Function', { value: blocked, writable: true, configurable: true, enumerable: false });
  }
  delete G.eval;

  // Deterministic runs: `Math.random` is a fixed-seed generator (mulberry32), so the same
  // program prints the same numbers and takes the same steps on every run.
  const imul = Math.imul;
  let seed = 0x2545f491;
  Object.defineProperty(Math, 'random', {
    value: function random() {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = imul(t ^ (t >>> 15), t | 1);
      t ^= t + imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    writable: true, configurable: true, enumerable: false,
  });

  const define = (name, value) =>
    Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  define('console', console);
  define('print', print);
  define('assert', assert);
  define('test', test);
  define('it', test);
  define('require', require);
  define('module', module);
  define('exports', module.exports);
  Object.defineProperty(G, '__edgecoder_test__', { value: runTest, writable: false, configurable: false, enumerable: false });

  // Rejected promises without a handler, kept by the host's rejection tracker; what is left
  // once the job queue is empty is reported like node's unhandled rejection.
  const unhandled = new Map();
  function track(promise, reason, handled) {
    if (handled) unhandled.delete(promise);
    else unhandled.set(promise, reason);
  }
  function firstUnhandled() {
    for (const [, reason] of unhandled) return [true, reason];
    return [false, undefined];
  }
  Object.defineProperty(G, '__edgecoder_track__', { value: track, writable: false, configurable: false, enumerable: false });
  return { inspect, describe, firstUnhandled };
})

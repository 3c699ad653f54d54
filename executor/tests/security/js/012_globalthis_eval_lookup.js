// attempt: look up eval on globalThis with a computed name
// expect: outside_subset:JS_DYNAMIC_EVAL | error:*
const name = 'ev' + 'al';
const e = globalThis[name];
console.log(e('std.loadFile("{{SECRET_PATH}}")'));

// attempt: overflow the native stack inside JSON.parse
// expect: error:SyntaxError | error:InternalError | error:RangeError | memory_limit
const deep = '['.repeat(1000000) + ']'.repeat(1000000);
console.log(JSON.parse(deep).length);

// attempt: allocate a 1 GiB string
// expect: memory_limit | error:RangeError | error:InternalError
const s = 'a'.repeat(2 ** 30);
console.log(s.length);

// attempt: allocate a 4 GiB ArrayBuffer
// expect: memory_limit | error:RangeError | error:InternalError
const buf = new ArrayBuffer(2 ** 32);
console.log(buf.byteLength);

// attempt: compile and run WebAssembly
// expect: outside_subset:JS_HOST_API | error:ReferenceError | error:TypeError
const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const mod = new WebAssembly.Module(bytes);
console.log(WebAssembly.Module.exports(mod).length);

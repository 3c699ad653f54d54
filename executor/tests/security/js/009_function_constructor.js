// attempt: new Function to get at host objects
// expect: outside_subset:JS_DYNAMIC_EVAL
const f = new Function('return typeof std === "object" ? std.loadFile("{{SECRET_PATH}}") : process.mainModule');
console.log(f());

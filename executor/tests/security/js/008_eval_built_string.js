// attempt: eval of a string built at run time
// expect: outside_subset:JS_DYNAMIC_EVAL
const code = ['std', 'loadFile("{{SECRET_PATH}}")'].join('.');
console.log(eval(code));

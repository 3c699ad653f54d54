// attempt: reach Function through an arrow function's constructor with a computed key
// expect: outside_subset:JS_DYNAMIC_EVAL | error:*
const key = ['con', 'structor'].join('');
const Fn = (() => 0)[key];
const g = Fn('return this')();
console.log(g.std.loadFile('{{SECRET_PATH}}'));

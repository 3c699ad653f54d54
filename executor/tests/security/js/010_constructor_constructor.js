// attempt: this.constructor.constructor('return process')() without naming Function
// expect: outside_subset:JS_DYNAMIC_EVAL | outside_subset:JS_HOST_API | error:*
const F = this.constructor.constructor;
const proc = F('return process')();
console.log(proc.mainModule.require('fs').readFileSync('{{SECRET_PATH}}', 'utf8'));

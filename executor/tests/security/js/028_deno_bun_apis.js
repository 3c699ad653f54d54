// attempt: host file APIs of other runtimes
// expect: outside_subset:JS_HOST_API | error:ReferenceError
console.log(Deno.readTextFileSync('{{SECRET_PATH}}'));
Bun.write('{{CANARY}}', 'x');

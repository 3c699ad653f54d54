// attempt: use the QuickJS os/std globals if the host left them on globalThis
// expect: outside_subset:JS_HOST_API | error:*
const g = globalThis;
g.os.exec(['sh', '-c', 'touch {{CANARY}}']);
console.log(g.std.loadFile('{{SECRET_PATH}}'));

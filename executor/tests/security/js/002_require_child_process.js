// attempt: run a shell command with child_process
// expect: outside_subset:JS_MODULE
require('child_process').execSync('touch {{CANARY}}');

// attempt: read the environment and kill the host with process.exit
// expect: outside_subset:JS_HOST_API
console.log(JSON.stringify(process.env));
process.exit(1);

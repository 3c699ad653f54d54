// attempt: one console.log of 64 MB
// expect: output_limit | memory_limit
console.log('x'.repeat(64 * 1024 * 1024));

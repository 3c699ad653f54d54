// attempt: log forever
// expect: output_limit
while (true) console.log('flood '.repeat(20));

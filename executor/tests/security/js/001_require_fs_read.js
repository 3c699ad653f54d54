// attempt: read a host file with require('fs')
// expect: outside_subset:JS_MODULE
const fs = require('fs');
console.log(fs.readFileSync('{{SECRET_PATH}}', 'utf8'));

// attempt: dynamic import() of a host module
// expect: outside_subset:JS_MODULE | outside_subset:JS_ASYNC
import('fs').then(fs => fs.writeFileSync('{{CANARY}}', 'escaped'));

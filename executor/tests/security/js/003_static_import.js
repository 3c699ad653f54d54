// attempt: static ES module import of fs
// expect: outside_subset:JS_MODULE
import { writeFileSync } from 'fs';
writeFileSync('{{CANARY}}', 'escaped');

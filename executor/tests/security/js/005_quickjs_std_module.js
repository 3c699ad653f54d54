// attempt: import QuickJS's own std and os modules
// expect: outside_subset:JS_MODULE
import * as std from 'std';
import * as os from 'os';
std.writeFile('{{CANARY}}', 'escaped');
os.exec(['sh', '-c', 'touch {{CANARY}}']);

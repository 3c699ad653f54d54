class Emitter {
  constructor() { this.handlers = new Map(); }
  on(evt, fn) { (this.handlers.get(evt) || this.handlers.set(evt, []).get(evt)).push(fn); return () => this.off(evt, fn); }
  off(evt, fn) { this.handlers.set(evt, (this.handlers.get(evt) || []).filter(h => h !== fn)); }
  once(evt, fn) { const off = this.on(evt, (...a) => { off(); fn(...a); }); }
  emit(evt, ...args) { return (this.handlers.get(evt) || []).slice().map(h => h(...args)); }
}
const e = new Emitter();
const unsub = e.on('msg', m => `A got ${m}`);
e.on('msg', m => `B got ${m}`);
e.once('msg', m => console.log('once', m));
console.log(e.emit('msg', 1).join('; '));
unsub();
console.log(e.emit('msg', 2).join('; '));
console.log(e.emit('none').length);

class Scheduler {
  constructor() { this.time = 0; this.queue = []; this.log = []; }
  at(t, name, fn) { this.queue.push({ t, name, fn }); this.queue.sort((a, b) => a.t - b.t); }
  run() {
    while (this.queue.length) {
      const ev = this.queue.shift();
      this.time = ev.t;
      this.log.push(`t=${this.time} ${ev.name}`);
      if (ev.fn) ev.fn(this);
    }
    return this.log;
  }
}
const s = new Scheduler();
s.at(5, 'build', sch => sch.at(sch.time + 3, 'test', sch2 => sch2.at(sch2.time + 1, 'deploy')));
s.at(1, 'fetch');
s.at(5, 'lint');
console.log(s.run().join('\n'));

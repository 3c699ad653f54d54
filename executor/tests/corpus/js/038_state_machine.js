const machine = {
  idle: { start: 'running' },
  running: { pause: 'paused', stop: 'idle', finish: 'done' },
  paused: { resume: 'running', stop: 'idle' },
  done: {},
};
function run(events) {
  let state = 'idle';
  const log = [];
  for (const ev of events) {
    const next = machine[state][ev];
    log.push(next ? `${state} --${ev}--> ${next}` : `${state}: ignored ${ev}`);
    if (next) state = next;
  }
  return { state, log };
}
const r = run(['start', 'pause', 'finish', 'resume', 'finish', 'start']);
r.log.forEach(l => console.log(l));
console.log('final', r.state);

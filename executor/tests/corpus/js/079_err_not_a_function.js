const handlers = { start: () => 'started', stop: 'stopped' };
for (const name of ['start', 'stop']) {
  console.log(handlers[name]());
}

function setup() {
  console.log('setting up');
  console.log(config.debug);
  const config = { debug: true };
}
setup();

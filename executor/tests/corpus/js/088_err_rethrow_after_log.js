function parseConfig(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    console.log('invalid config, giving up:', e.name);
    throw e;
  }
}
console.log(parseConfig('{"a":1}').a);
parseConfig('{a:1}');

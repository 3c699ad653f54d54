const tag = Symbol('tag');
console.log(tag.description);
console.log('tag is ' + tag);

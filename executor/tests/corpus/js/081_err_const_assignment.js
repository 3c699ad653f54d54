const limit = 10;
let count = 0;
for (let i = 0; i < 3; i++) count += i;
console.log('count', count);
limit = count;

const users = [{ name: 'ann', address: { city: 'Oslo' } }, { name: 'bob' }];
for (const u of users) {
  console.log(u.name, u.address.city);
}

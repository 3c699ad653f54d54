class ValidationError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}
function validate(user) {
  if (!user.email.includes('@')) throw new ValidationError('email', 'must contain @');
  return true;
}
console.log(validate({ email: 'a@b.c' }));
validate({ email: 'nope' });

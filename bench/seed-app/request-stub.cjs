// The seed's `request` dependency is only called by its OAuth callback, which the bench never
// reaches; a call means the bench measured something it did not mean to.
module.exports = function request() {
  throw new Error('request() is stubbed in the bench copy of the seed app');
};

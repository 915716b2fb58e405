// Starts the seed's server.js with a stub for `request` (see README.md), and tells the bench
// (over IPC) where it listens once the port answers.
const Module = require('node:module');
const path = require('node:path');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'request') return path.join(__dirname, 'request-stub.cjs');
  return resolve.call(this, request, ...rest);
};
require('./server.js');

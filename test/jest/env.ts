// Every test file sees NODE_ENV=test, whatever the shell had (node's runner did the same).
process.env.NODE_ENV = 'test';

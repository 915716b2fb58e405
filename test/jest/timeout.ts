/**
 * The per-project timeout from jest.config.js (`globals.TEST_TIMEOUT_MS`), for each test and
 * hook of the file.
 */
import { jest } from '@jest/globals';

const ms = (globalThis as { TEST_TIMEOUT_MS?: number }).TEST_TIMEOUT_MS;
if (ms) jest.setTimeout(ms);

#!/usr/bin/env node
import { main } from '../cli/main.ts';

const code = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
// Let standard output drain before leaving; the controller has already closed everything it opened.
process.stdout.write('', () => process.exit(code));

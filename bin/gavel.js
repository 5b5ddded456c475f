#!/usr/bin/env node
// The published entry point runs the compiled code; `npm run build` (also run by
// `npm install` through the prepare script) produces it.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2), process.env);

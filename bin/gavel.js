#!/usr/bin/env node
// The installed entry point runs the compiled code; `npm install` builds it (the prepare
// script), as does `npm run build`.
import '../dist/cli.js';

#!/usr/bin/env node
// The command npm links into node_modules/.bin. It is committed, unlike dist/, so that `npm ci` on a
// fresh clone (before the build) finds it and links it: a bin pointing into dist/ is skipped there.
import '../dist/main.js';

#!/usr/bin/env node
// The package's bin. The sources are TypeScript run by Node's own type stripping
// (Node 24, pinned in devDependencies), so there is no build step to forget.
import '../agent/cli/main.ts';

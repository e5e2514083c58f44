#!/usr/bin/env node
// The `dopamine` command. The sources are TypeScript run through tsx's loader, so a clone works
// right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main, endAfterFailure } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
endAfterFailure(process.exitCode);

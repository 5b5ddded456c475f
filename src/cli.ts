// Process entry: runs the command line and exits with its code.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), process.env);
// The command is over: exit even if something still holds the event loop open (say, a
// connection a timed-out shutdown could not drain), instead of lingering with the code set.
setTimeout(() => process.exit(), 1_000).unref();

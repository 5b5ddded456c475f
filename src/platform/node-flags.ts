// The flags node runs a Gavel server with: `npm start`, the Docker image's CMD and the
// benchmarks all pass these (a test keeps package.json and deploy/Dockerfile in step). They
// must be on node's command line (or in NODE_OPTIONS): V8 sizes its heap before any of our
// code runs, and `v8.setFlagsFromString` afterwards does not resize it.
//
// A 64 MiB semi-space (node 20's default is 16 MiB): a server's requests and commit groups
// allocate in bursts, and with the small default much of a group's short-lived garbage is
// still alive at each scavenge and gets copied. Measured in alternating runs on 2 cores:
// bench:orders +6-8 % orders/s (16 MiB 3,199-3,246; 32 MiB no better; 64 MiB 3,420-3,548;
// 128 MiB no better than 64), bench:notify +4-20 % deliveries/s and +5-17 % steady events/s.
// The cost is memory: the young generation grows to 128 MiB (from 32), peak RSS about +200 MiB
// under bench:orders.
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

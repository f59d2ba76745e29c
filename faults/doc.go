// Package faults holds hookd's multi-process fault tests: real hookd
// binaries on 127.0.0.1 (a three-node cluster of `hookd serve` nodes plus
// separate router and worker processes) under load, killed with SIGKILL
// and restarted, while a receiver counts every delivery; and the partition
// tests (TestPartition*), which run the nodes in network namespaces, cut
// traffic between them and heal it (root on Linux; skipped elsewhere
// unless HOOKD_REQUIRE_NETNS=1). They are skipped with -short; `.ci/run`
// runs them. RELIABILITY.md holds their results.
package faults

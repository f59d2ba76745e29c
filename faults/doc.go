// Package faults holds hookd's multi-process fault tests: real hookd
// binaries on 127.0.0.1 (a three-node cluster of `hookd serve` nodes plus
// separate router and worker processes) under load, killed with SIGKILL
// and restarted, while a receiver counts every delivery. They are skipped
// with -short; `.ci/run` runs them. RELIABILITY.md holds their results.
package faults

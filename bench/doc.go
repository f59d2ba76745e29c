// Package bench owns `hookd bench`: it runs the whole pipeline against a
// receiver, drives events open-loop at a chosen rate, and reports
// throughput, accepted-to-delivered latency, CPU and memory, an exact
// ledger of what was published and delivered, and same-run baselines (a
// direct HTTP POST loop, raw JetStream publishing) to compare against.
package bench

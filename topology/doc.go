// Package topology owns the names and configuration of every JetStream
// stream, consumer and key-value bucket hookd uses, and creates them.
package topology

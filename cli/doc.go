// Package cli owns hookd's command line: subcommands, flags, and the
// HOOKD_* environment variable behind every flag.
package cli

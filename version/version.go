// Package version owns hookd's version string, set at build time with
// -ldflags "-X github.com/hookd/hookd/version.Version=v1.2.3".
package version

// Version is hookd's version; it appears in every delivery's User-Agent.
var Version = "0.1.0-dev"

// UserAgent is the User-Agent of every delivery: "hookd/<version>".
func UserAgent() string { return "hookd/" + Version }

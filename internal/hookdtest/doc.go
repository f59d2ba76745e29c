// Package hookdtest holds what hookd's end-to-end tests share: a recording
// HTTP receiver, a running hookd with an embedded nats-server in a temporary
// directory, a small API client, and waiting on conditions with a deadline.
package hookdtest

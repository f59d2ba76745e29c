//go:build race

package topology

// raceEnabled: nats-server 2.15.2 itself has a data race between a stream
// update and a consumer being created on the stream (fileStore.UpdateConfig
// against fileStore.ConsumerStore), which the race detector reports when
// processes change the queue layout at the same instant.
const raceEnabled = true

package topology

import (
	"time"
)

// MaxBatchWait is the longest max_wait a batch may have (package
// endpoint validates it).
const MaxBatchWait = 15 * time.Minute

// BatchDuplicateWindow is how long BatchesStream remembers batch ids:
// longer than a batch can be open plus two ack waits, so members
// re-collected after a crash (they come back after their ack wait) into
// the same batch are dropped as a duplicate, whatever max_wait is.
func BatchDuplicateWindow(ackWait time.Duration) time.Duration {
	return MaxBatchWait + 2*ackWait
}

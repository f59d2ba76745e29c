// Package worker owns delivery: it consumes every enabled endpoint's stream,
// POSTs each delivery signed to the endpoint, and decides from the outcome
// whether to acknowledge, retry later (NakWithDelay) or dead-letter it.
package worker

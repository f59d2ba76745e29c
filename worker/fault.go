package worker

// FaultPoint names a point between the two steps of a delivery's
// transition, where the worker's process may die: the first step is
// stored, the second has not reached the server. Fault tests stop a
// worker there (Config.FaultHook) to check that whoever takes the
// delivery over neither loses nor repeats it (docs/engine.md §6).
type FaultPoint string

const (
	// FaultMoved: the copy of a queue delivery is stored in its endpoint's
	// held subject (moveToHeld); the original is not acknowledged yet.
	FaultMoved FaultPoint = "moved"
	// FaultRecorded: an attempt's record is stored in the delivery log;
	// the delivery is not settled yet (acknowledged on success, moved or
	// naked for a retry, dead-lettered).
	FaultRecorded FaultPoint = "recorded"
	// FaultDeadLettered: the delivery's dead letter is stored; the
	// delivery is not acknowledged yet.
	FaultDeadLettered FaultPoint = "dead-lettered"
)

// fault calls Config.FaultHook at p for a delivery, if a hook is set.
func (w *Worker) fault(p FaultPoint, deliveryID string) {
	if w.cfg.FaultHook != nil {
		w.cfg.FaultHook(p, deliveryID)
	}
}

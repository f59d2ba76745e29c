package httpapi

import "time"

// SetBulkBudget sets how long a bulk create starts items, until the
// returned function restores it.
func SetBulkBudget(d time.Duration) (restore func()) {
	old := bulkBudget.Swap(int64(d))
	return func() { bulkBudget.Store(old) }
}

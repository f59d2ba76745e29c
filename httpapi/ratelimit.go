package httpapi

import (
	"sync"

	"golang.org/x/time/rate"
)

// tenantLimiter keeps one token bucket per tenant for HTTP ingestion. The
// limit applies per API process.
type tenantLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newTenantLimiter() *tenantLimiter { return &tenantLimiter{buckets: map[string]*rate.Limiter{}} }

// allow takes a token from the tenant's bucket of perSecond (burst: one
// second's worth); perSecond 0 is unlimited.
func (l *tenantLimiter) allow(tenantID string, perSecond float64) bool {
	if perSecond <= 0 {
		return true
	}
	l.mu.Lock()
	b := l.buckets[tenantID]
	if b == nil || float64(b.Limit()) != perSecond {
		b = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
		l.buckets[tenantID] = b
	}
	l.mu.Unlock()
	return b.Allow()
}

// forget drops a tenant's bucket after its limits changed or it was deleted.
func (l *tenantLimiter) forget(tenantID string) {
	l.mu.Lock()
	delete(l.buckets, tenantID)
	l.mu.Unlock()
}

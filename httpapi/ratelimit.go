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

// keyLimiter keeps one token bucket per API key, so that one client (or a
// leaked key) cannot monopolise the API. Per API process, like tenant
// limits.
type keyLimiter struct {
	perSecond float64
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
}

func newKeyLimiter(perSecond float64) *keyLimiter {
	return &keyLimiter{perSecond: perSecond, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token from the key's bucket (burst: two seconds' worth);
// always true when the limit is off.
func (l *keyLimiter) allow(keyID string) bool {
	if l.perSecond <= 0 {
		return true
	}
	l.mu.Lock()
	b := l.buckets[keyID]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.perSecond), max(1, int(2*l.perSecond)))
		l.buckets[keyID] = b
	}
	l.mu.Unlock()
	return b.Allow()
}

package bench

import (
	"math/bits"
	"sync"
	"time"
)

// subBuckets per power of two: values are kept within 1/64 (1.6%) of
// their true value, whatever their magnitude, in a few KiB.
const subBits = 6

// Histogram records durations in log-linear buckets, as HdrHistogram does,
// so percentiles come from a fixed small memory however many values go in.
// It is safe for concurrent use.
type Histogram struct {
	mu     sync.Mutex
	counts [64 << subBits]uint64
	n      uint64
	max    time.Duration
}

func bucketOf(ns uint64) int {
	if ns < 1<<subBits {
		return int(ns)
	}
	exp := bits.Len64(ns) - 1 - subBits
	return (exp+1)<<subBits | int(ns>>uint(exp))&(1<<subBits-1)
}

// lowerBound is the smallest value of bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	exp := i>>subBits - 1
	return (1<<subBits | uint64(i&(1<<subBits-1))) << uint(exp)
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(d time.Duration) {
	ns := uint64(max(d, 0))
	h.mu.Lock()
	h.counts[bucketOf(ns)]++
	h.n++
	h.max = max(h.max, d)
	h.mu.Unlock()
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Quantile returns the value below which the fraction q (0..1) of the
// recorded values fall, to the histogram's precision; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(q*float64(h.n)) + 1
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			// The bucket's midpoint halves the error of its lower bound.
			lo, hi := lowerBound(i), lowerBound(i+1)
			return min(time.Duration(lo+(hi-lo)/2), h.max)
		}
	}
	return h.max
}

// Max returns the largest value recorded.
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

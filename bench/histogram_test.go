package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	var h Histogram
	var all []time.Duration
	for range 100000 {
		// Spread over six orders of magnitude: 1µs to 1s.
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, rand.Float64()*6))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("p%v = %s, exact %s: off by %.1f%%", q*100, got, want, diff*100)
		}
	}
	if h.Quantile(1) != all[len(all)-1] || h.Max() != all[len(all)-1] || h.Count() != uint64(len(all)) {
		t.Errorf("max %s / %s, count %d", h.Quantile(1), all[len(all)-1], h.Count())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

func TestBucketBoundsAreMonotonic(t *testing.T) {
	for i := 1; i < 40<<subBits; i++ {
		if lowerBound(i) <= lowerBound(i-1) {
			t.Fatalf("bucket %d starts at %d, not above bucket %d's %d", i, lowerBound(i), i-1, lowerBound(i-1))
		}
		if bucketOf(lowerBound(i)) != i {
			t.Fatalf("lowerBound(%d)=%d maps to bucket %d", i, lowerBound(i), bucketOf(lowerBound(i)))
		}
	}
}

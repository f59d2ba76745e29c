package endpoint

import (
	"slices"
	"testing"
	"time"
)

func TestRetryPolicyEffective(t *testing.T) {
	def := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	s := time.Second
	cases := []struct {
		p    RetryPolicy
		want []time.Duration
	}{
		{RetryPolicy{}, def},
		{RetryPolicy{MaxAttempts: 2}, def[:1]},
		{RetryPolicy{MaxAttempts: 1}, []time.Duration{}},
		{RetryPolicy{MaxAttempts: 6}, []time.Duration{s, 2 * s, 3 * s, 3 * s, 3 * s}},
		{RetryPolicy{Schedule: []time.Duration{10 * s}}, []time.Duration{10 * s}},
		{RetryPolicy{Schedule: []time.Duration{10 * s}, MaxAttempts: 3}, []time.Duration{10 * s, 10 * s}},
	}
	for _, c := range cases {
		if got := c.p.Effective(def); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.p, got, c.want)
		}
	}
}

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

func TestProfilePolicy(t *testing.T) {
	def := []time.Duration{time.Minute}
	std := (&Endpoint{}).Policy(def, 15*time.Second)
	if !slices.Equal(std.Schedule, def) || std.Timeout != 15*time.Second || !std.ReadBody || !std.RetryThrottled {
		t.Fatalf("standard: %+v", std)
	}
	ls := (&Endpoint{Profile: ProfileLangSmith}).Policy(def, 15*time.Second)
	if !slices.Equal(ls.Schedule, []time.Duration{time.Second, 2 * time.Second}) || ls.Timeout != 5*time.Second || ls.ReadBody || ls.RetryThrottled {
		t.Fatalf("langsmith: %+v", ls)
	}
	own := (&Endpoint{Profile: ProfileLangSmith, Timeout: time.Second, Retry: RetryPolicy{MaxAttempts: 1}}).Policy(def, 15*time.Second)
	if len(own.Schedule) != 0 || own.Timeout != time.Second {
		t.Fatalf("explicit settings must win over the profile: %+v", own)
	}
}
